/// A request the server refuses or cannot serve: the HTTP status and one line naming what is
/// wrong, sent as `{"error": "..."}`. 4xx for the client's faults, 5xx for the server's own.
struct ServerError: Error, CustomStringConvertible {
    let status: Int
    let message: String

    var description: String { message }

    static func badRequest(_ message: String) -> ServerError { ServerError(status: 400, message: message) }
    static func notFound(_ message: String) -> ServerError { ServerError(status: 404, message: message) }
    static func tooLarge(_ message: String) -> ServerError { ServerError(status: 413, message: message) }
    static func tooManySessions(_ message: String) -> ServerError { ServerError(status: 429, message: message) }
    static func internalFault(_ message: String) -> ServerError { ServerError(status: 500, message: message) }

    /// The outcome label metrics count it under.
    var outcome: String {
        switch status {
        case 429: return "rejected"
        case 400..<500: return "client_error"
        default: return "server_error"
        }
    }
}
