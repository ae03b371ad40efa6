import Foundation

/// Reads lines for the chat session. On a terminal, the line is edited in place: left and right
/// arrows, Home/End and Ctrl-A/Ctrl-E, Backspace, Ctrl-U (erase to the start), Ctrl-W (erase a
/// word), up and down through earlier lines; Ctrl-D on an empty line or end of input ends.
/// Off a terminal (a pipe, a file) it reads plain lines.
struct LineEditor {
    private var history: [String] = []
    private let isTerminal = isatty(0) != 0 && isatty(1) != 0

    /// Adds a line to the history that up and down walk.
    mutating func remember(_ line: String) {
        if history.last != line { history.append(line) }
    }

    /// The next line without its newline, or nil at the end of input.
    func readLine(prompt: String) -> String? {
        guard isTerminal else { return Swift.readLine() }
        var original = termios()
        guard tcgetattr(0, &original) == 0 else { return Swift.readLine() }
        var raw = original
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(0, TCSAFLUSH, &raw) == 0 else { return Swift.readLine() }
        defer { tcsetattr(0, TCSAFLUSH, &original) }
        var state = EditState(prompt: prompt, history: history)
        state.redraw()
        while true {
            guard let byte = Self.readByte() else { return state.finish(returning: state.text.isEmpty ? nil : state.text) }
            switch byte {
            case 4: if state.text.isEmpty { return state.finish(returning: nil) }  // Ctrl-D
            case 10, 13: return state.finish(returning: state.text)
            case 127, 8: state.deleteBackward()
            case 1: state.cursor = 0  // Ctrl-A
            case 5: state.cursor = state.characters.count  // Ctrl-E
            case 21: state.characters.removeFirst(state.cursor); state.cursor = 0  // Ctrl-U
            case 23: state.deleteWordBackward()  // Ctrl-W
            case 27: state.escape(Self.readByte(), Self.readByte)
            case 32...126, 128...255: state.insert(byte)
            default: break
            }
            state.redraw()
        }
    }

    static func readByte() -> UInt8? {
        var byte: UInt8 = 0
        return read(0, &byte, 1) == 1 ? byte : nil
    }
}

/// A line being edited: its characters (UTF-8 bytes gathered into characters), the cursor, and
/// the history position.
private struct EditState {
    let prompt: String
    let history: [String]
    var characters: [Character] = []
    var cursor = 0
    var historyIndex: Int
    var pendingBytes: [UInt8] = []

    init(prompt: String, history: [String]) {
        self.prompt = prompt
        self.history = history
        historyIndex = history.count
    }

    var text: String { String(characters) }

    mutating func insert(_ byte: UInt8) {
        pendingBytes.append(byte)
        guard let decoded = String(validating: pendingBytes, as: UTF8.self) else {
            if pendingBytes.count >= 4 { pendingBytes = [] }
            return
        }
        pendingBytes = []
        characters.insert(contentsOf: decoded, at: cursor)
        cursor += decoded.count
    }

    mutating func deleteBackward() {
        guard cursor > 0 else { return }
        characters.remove(at: cursor - 1)
        cursor -= 1
    }

    mutating func deleteWordBackward() {
        var start = cursor
        while start > 0, characters[start - 1] == " " { start -= 1 }
        while start > 0, characters[start - 1] != " " { start -= 1 }
        characters.removeSubrange(start..<cursor)
        cursor = start
    }

    /// An escape sequence: arrows (ESC [ A..D), Home and End (ESC [ H/F, ESC O H/F, ESC [ 1~/4~).
    mutating func escape(_ introducer: UInt8?, _ next: () -> UInt8?) {
        guard introducer == UInt8(ascii: "[") || introducer == UInt8(ascii: "O"), let code = next() else { return }
        switch code {
        case UInt8(ascii: "D"): cursor = max(0, cursor - 1)
        case UInt8(ascii: "C"): cursor = min(characters.count, cursor + 1)
        case UInt8(ascii: "H"): cursor = 0
        case UInt8(ascii: "F"): cursor = characters.count
        case UInt8(ascii: "A"): recall(historyIndex - 1)
        case UInt8(ascii: "B"): recall(historyIndex + 1)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            let terminator = next()
            if terminator == UInt8(ascii: "~") {
                if code == UInt8(ascii: "1") || code == UInt8(ascii: "7") { cursor = 0 }
                if code == UInt8(ascii: "4") || code == UInt8(ascii: "8") { cursor = characters.count }
                if code == UInt8(ascii: "3"), cursor < characters.count { characters.remove(at: cursor) }
            }
        default: break
        }
    }

    mutating func recall(_ index: Int) {
        guard (0...history.count).contains(index) else { return }
        historyIndex = index
        characters = index == history.count ? [] : Array(history[index])
        cursor = characters.count
    }

    /// The prompt and the line, the cursor put back where it is.
    func redraw() {
        let tail = characters.count - cursor
        let line = "\r" + prompt + text + "\u{1B}[K" + (tail > 0 ? "\u{1B}[\(tail)D" : "")
        FileHandle.standardOutput.write(Data(line.utf8))
    }

    func finish(returning line: String?) -> String? {
        FileHandle.standardOutput.write(Data("\r\n".utf8))
        return line
    }
}
