/// Every error Recurrent throws. Each message names what is wrong and where
/// (file, line, column or tensor), so the command line can print it as one line.
public enum RecurrentError: Error, CustomStringConvertible, Equatable, Sendable {
    case shapeMismatch(String)
    case invalidArgument(String)
    case invalidFile(path: String, reason: String)
    case io(path: String, reason: String)
    case diverged(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let message): return "shape mismatch: \(message)"
        case .invalidArgument(let message): return message
        case .invalidFile(let path, let reason): return "\(path): \(reason)"
        case .io(let path, let reason): return "\(path): \(reason)"
        case .diverged(let message): return message
        }
    }
}
