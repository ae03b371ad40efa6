import Foundation

/// Splits text into tokens and joins tokens back into text. Stored in model files, so that a
/// model reads new text exactly as it read its training text.
public struct Tokenizer: Codable, Equatable, Sendable {
    public enum Level: String, Codable, Sendable, CaseIterable {
        /// One token per Unicode scalar.
        case char
        /// One token per byte of the UTF-8 encoding (each byte is held as the scalar of the same
        /// number, so every input is representable).
        case byte
        /// Words, with every punctuation mark a token of its own.
        case word
    }

    public var level: Level
    public var lowercase: Bool

    public init(level: Level, lowercase: Bool = false) {
        self.level = level
        self.lowercase = lowercase
    }

    public func tokenize(_ text: String) -> [String] {
        let text = lowercase ? text.lowercased() : text
        switch level {
        case .char:
            return text.unicodeScalars.map { String($0) }
        case .byte:
            return text.utf8.map { String(UnicodeScalar($0)) }
        case .word:
            return Self.words(text)
        }
    }

    /// Text from tokens: characters and bytes are concatenated; words are joined by spaces, with
    /// no space before closing punctuation or after opening brackets.
    public func detokenize<S: Sequence>(_ tokens: S) -> String where S.Element == String {
        switch level {
        case .char:
            return tokens.joined()
        case .byte:
            let bytes = tokens.flatMap { $0.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) } }
            return String(decoding: bytes, as: UTF8.self)
        case .word:
            var text = ""
            for token in tokens { text += separator(before: token, after: text) + token }
            return text
        }
    }

    /// What goes between `text` and the next word token: a space, or nothing before closing
    /// punctuation, after an opening bracket and after white space. Lets text be shown as it is produced, a token
    /// at a time, exactly as `detokenize` would join it. Characters and bytes need none.
    public func separator(before token: String, after text: String) -> String {
        guard level == .word else { return "" }
        let attachesLeft = token.count == 1 && ".,;:!?)]}'\u{2019}".contains(token)
        let previousOpens = text.last.map { "([{".contains($0) || $0.isWhitespace } ?? true
        return !text.isEmpty && !attachesLeft && !previousOpens ? " " : ""
    }

    /// Runs of letters, digits and inner apostrophes ("don't", "o'er") are words; every other
    /// visible character is a token by itself; white space separates.
    static func words(_ text: String) -> [String] {
        var tokens: [String] = [], current = ""
        let characters = Array(text)
        for (index, character) in characters.enumerated() {
            let isApostrophe = character == "'" || character == "\u{2019}"
            let nextIsLetter = index + 1 < characters.count && characters[index + 1].isLetter
            if character.isLetter || character.isNumber || (isApostrophe && !current.isEmpty && nextIsLetter) {
                current.append(character)
                continue
            }
            if !current.isEmpty { tokens.append(current); current = "" }
            if !character.isWhitespace { tokens.append(String(character)) }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }
}

/// Token <-> id. Special tokens come first (the unknown token always at id 0), then the
/// tokens of the training text by falling frequency (ties in code-point order, so the same
/// text always gives the same ids), up to a cap.
public struct Vocabulary: Codable, Equatable, Sendable {
    public static let unknown = "<unk>"

    public private(set) var tokens: [String]
    private var ids: [String: Int]

    /// Builds the vocabulary of `tokens`. `specials` (for instance "<pad>", "<bos>", "<eos>")
    /// follow the unknown token; `maximumSize` counts them too.
    public init<S: Sequence>(counting tokens: S, specials: [String] = [], maximumSize: Int? = nil, minimumCount: Int = 1)
        where S.Element == String
    {
        var counts: [String: Int] = [:]
        for token in tokens { counts[token, default: 0] += 1 }
        let reserved = [Self.unknown] + specials.filter { $0 != Self.unknown }
        let reservedSet = Set(reserved)
        let ranked = counts.filter { $0.value >= minimumCount && !reservedSet.contains($0.key) }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) }
            .map(\.key)
        let room = max(0, (maximumSize ?? Int.max) - reserved.count)
        self.init(tokens: reserved + ranked.prefix(room))
    }

    /// A vocabulary with exactly these tokens, in this order (the first must be the unknown one).
    public init(tokens: [String]) {
        self.tokens = tokens
        ids = Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public var count: Int { tokens.count }
    public var unknownID: Int { ids[Self.unknown] ?? 0 }

    /// The id of `token`, or the unknown token's id.
    public func id(_ token: String) -> Int { ids[token] ?? unknownID }
    public func contains(_ token: String) -> Bool { ids[token] != nil }
    public func ids<S: Sequence>(_ tokens: S) -> [Int] where S.Element == String { tokens.map(id) }
    /// The token of `id`, or the unknown token for an id out of range.
    public func token(_ id: Int) -> String { tokens.indices.contains(id) ? tokens[id] : Self.unknown }

    enum CodingKeys: String, CodingKey { case tokens }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let tokens = try container.decode([String].self, forKey: .tokens)
        guard tokens.first == Self.unknown else {
            throw DecodingError.dataCorruptedError(forKey: .tokens, in: container,
                debugDescription: "the first token of a vocabulary must be \(Self.unknown)")
        }
        self.init(tokens: tokens)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(tokens, forKey: .tokens)
    }
}
