import Foundation
import Yams

/// Reads the chatterbot-corpus shape:
///
/// ```yaml
/// categories:
/// - greetings
/// conversations:
/// - - Hello
///   - Hi
/// - - How are you?
///   - I am doing well.
/// ```
///
/// Anything else (no `conversations` list, a conversation that is not a list or is empty, a
/// turn that is not text or is empty) is an error naming the file, the line and the column.
/// Each conversation is its own group: a split keeps a conversation whole.
struct ConversationYAMLReader {
    let path: String

    static let shape = "expected the chatterbot-corpus shape: conversations: a list of conversations, each a list of turns"

    func read(_ text: String) throws -> [Conversation] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw RecurrentError.invalidFile(path: path, reason: Self.describe(error))
        }
        guard let root, let mapping = root.mapping else {
            throw fail(root, "the document is \(Self.kind(root)); \(Self.shape)")
        }
        guard let list = mapping["conversations"] else {
            throw fail(root, "no \"conversations\" key; \(Self.shape)")
        }
        if let categories = mapping["categories"], categories.sequence == nil, categories.scalar == nil {
            throw fail(categories, "\"categories\" is \(Self.kind(categories)); expected a list of names")
        }
        guard let conversations = list.sequence else {
            throw fail(list, "\"conversations\" is \(Self.kind(list)); expected a list of conversations")
        }
        let file = URL(fileURLWithPath: path).lastPathComponent
        return try conversations.enumerated().map { index, node in
            let number = index + 1
            guard let turns = node.sequence else {
                throw fail(node, "conversation \(number) is \(Self.kind(node)); expected a list of turns")
            }
            guard !turns.isEmpty else { throw fail(node, "conversation \(number) is empty") }
            let read = try turns.enumerated().map { turnIndex, turn -> DialogueTurn in
                guard let scalar = turn.scalar else {
                    throw fail(turn, "turn \(turnIndex + 1) of conversation \(number) is \(Self.kind(turn)); expected text")
                }
                let text = scalar.string.split(whereSeparator: \.isWhitespace).joined(separator: " ")
                guard !text.isEmpty, turn.null == nil else {
                    throw fail(turn, "turn \(turnIndex + 1) of conversation \(number) is empty")
                }
                return DialogueTurn(text: text, line: turn.mark?.line ?? 0)
            }
            return Conversation(turns: read, group: "\(path)#\(number)", name: "\(file), conversation \(number)", path: path)
        }
    }

    func fail(_ node: Node?, _ reason: String) -> RecurrentError {
        guard let mark = node?.mark else { return .invalidFile(path: path, reason: reason) }
        return .invalidFile(path: path, reason: "line \(mark.line), column \(mark.column): \(reason)")
    }

    static func kind(_ node: Node?) -> String {
        switch node {
        case nil: return "empty"
        case .scalar(let scalar)?: return scalar.string.isEmpty ? "empty" : "a single value"
        case .mapping?: return "a mapping"
        case .sequence?: return "a list"
        case .alias?: return "an alias"
        }
    }

    /// libyaml's problem on one line, where it is.
    static func describe(_ error: YamlError) -> String {
        switch error {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            return "line \(mark.line), column \(mark.column): not valid YAML: \(problem)"
        case let .reader(problem, offset, _, _):
            return "not valid YAML: \(problem)" + (offset.map { " at byte offset \($0)" } ?? "")
        case let .duplicatedKeysInMapping(duplicates, context):
            return "line \(context.mark.line), column \(context.mark.column): the key \(duplicates.first ?? "") appears twice"
        default:
            return "not valid YAML: \(error)".split(separator: "\n").joined(separator: " ")
        }
    }
}
