/// The page at /: plain HTML, CSS and JavaScript, served from these strings (no build step).
enum Page {
    static let html = "<!doctype html><title>Recurrent</title>"
    static let css = ""
    static let script = ""
}
