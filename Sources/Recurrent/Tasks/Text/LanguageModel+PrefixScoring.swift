import Foundation

/// A language model trained by `LanguageModel.train` (`recurrent text train`) as the scorer of a
/// CTC prefix beam search, for shallow fusion.
///
/// How CTC classes map to the model's tokens: each class other than the blank stands for one
/// character (`characterOfClass`). A character- or byte-level model reads that character as one
/// token of its vocabulary (lowercased first when its tokenizer lowercases); characters it never
/// saw read as its unknown token, so they cost what unknown text cost in training. A word-level
/// model reads whole words: letters gather into the current word at no cost, and a class whose
/// character is white space ends the word, which is then scored as one token (unknown words as
/// the unknown token); `finish` scores a word still open.
///
/// The model starts from its start token (a line break, or a full stop for words, as
/// `generate` does), and `finish` adds the log-probability of that same token after the text
/// (end of line or sentence), when the vocabulary has it and `scoresEndOfText` is on.
///
/// States are read lazily: `extend` runs the model once, as one batch, on every state it is
/// given that has not been run yet, and scores each label from its state's next-token
/// distribution; the states it returns are run only if they are extended in turn (only the
/// hypotheses that survive in the beam are). A scorer and its states serve one search at a time.
public final class LanguageModelScorer: CTCPrefixScorer {
    public let model: LanguageModel
    /// The character each CTC class stands for; nil for the blank.
    public let characterOfClass: [Character?]
    public let scoresEndOfText: Bool
    /// Character and byte levels: the model's token for each class.
    private let tokenOfClass: [Int?]
    /// Word level: the classes that end a word.
    private let separatorClasses: Set<Int>
    private let endOfTextToken: Int?
    private let root: Reading

    /// What the scorer has read: the model's reading, and at word level the letters of the word
    /// not yet complete.
    public struct State {
        fileprivate let reading: Reading
        fileprivate let openWord: String
    }

    /// `alphabet` holds the characters of the classes other than the blank, in class order:
    /// class c is alphabet[c] below the blank and alphabet[c - 1] above it (blank 0: class 1 is
    /// alphabet[0]; blank alphabet.count: the blank comes last).
    public convenience init(model: LanguageModel, alphabet: [Character], blank: Int = 0, scoresEndOfText: Bool = true) throws {
        guard (0...alphabet.count).contains(blank) else {
            throw RecurrentError.invalidArgument("language model scorer: blank = \(blank) is not a class in 0...\(alphabet.count) for \(alphabet.count) characters")
        }
        var characters: [Character?] = alphabet
        characters.insert(nil, at: blank)
        try self.init(model: model, characterOfClass: characters, scoresEndOfText: scoresEndOfText)
    }

    /// The character of every class, nil for the blank (exactly one).
    public init(model: LanguageModel, characterOfClass: [Character?], scoresEndOfText: Bool = true) throws {
        let level = model.tokenizer.level, vocabulary = model.vocabulary
        guard characterOfClass.filter({ $0 == nil }).count == 1 else {
            throw RecurrentError.invalidArgument("language model scorer: exactly one class must be the blank (no character), found \(characterOfClass.filter { $0 == nil }.count)")
        }
        var tokens: [Int?] = [], separators: Set<Int> = []
        for (label, character) in characterOfClass.enumerated() {
            guard let character else { tokens.append(nil); continue }
            if level == .word {
                if character.isWhitespace { separators.insert(label) }
                tokens.append(nil)
                continue
            }
            let read = model.tokenizer.tokenize(String(character))
            guard read.count == 1 else {
                throw RecurrentError.invalidArgument("language model scorer: the \(level)-level language model reads class \(label) (\"\(character)\") as \(read.count) tokens; each class must be one token")
            }
            tokens.append(vocabulary.id(read[0]))
        }
        if level == .word && separators.isEmpty {
            throw RecurrentError.invalidArgument("language model scorer: a word-level language model scores whole words, but no class of the alphabet is a space to end them")
        }
        if level != .word && !tokens.contains(where: { $0 != nil && $0 != vocabulary.unknownID }) {
            throw RecurrentError.invalidArgument("language model scorer: the language model knows none of the alphabet's characters")
        }
        self.model = model
        self.characterOfClass = characterOfClass
        self.scoresEndOfText = scoresEndOfText
        tokenOfClass = tokens
        separatorClasses = separators
        let end = level == .word ? "." : "\n"
        endOfTextToken = vocabulary.contains(end) ? vocabulary.id(end) : nil
        let (state, logits) = model.read([])
        root = Reading(parent: nil, token: model.startID)
        root.outcome = Reading.Outcome(state: state, row: 0, logits: logits)
    }

    public func checkCovers(classes: Int, blank: Int) throws {
        guard characterOfClass.count == classes else {
            throw RecurrentError.invalidArgument("language model scorer: maps \(characterOfClass.count) classes, but the search has \(classes)")
        }
        guard characterOfClass.indices.contains(blank), characterOfClass[blank] == nil else {
            let blankAt = characterOfClass.firstIndex(where: { $0 == nil }) ?? -1
            throw RecurrentError.invalidArgument("language model scorer: the blank is class \(blankAt) in the scorer's mapping, but class \(blank) in the search")
        }
    }

    public func initialState() -> State { State(reading: root, openWord: "") }

    public func extend(_ states: [State], with labels: [Int]) -> [(state: State, logProbability: Double)] {
        run(states.map(\.reading))
        return zip(states, labels).map { state, label in
            guard characterOfClass.indices.contains(label), let character = characterOfClass[label] else {
                return (state, -.infinity)
            }
            if model.tokenizer.level != .word {
                guard let token = tokenOfClass[label] else { return (state, -.infinity) }
                return (State(reading: Reading(parent: state.reading, token: token), openWord: ""), state.reading.logProbability(of: token))
            }
            guard separatorClasses.contains(label) else { return (State(reading: state.reading, openWord: state.openWord + String(character)), 0) }
            guard !state.openWord.isEmpty else { return (state, 0) }
            let token = wordToken(state.openWord)
            return (State(reading: Reading(parent: state.reading, token: token), openWord: ""), state.reading.logProbability(of: token))
        }
    }

    public func finish(_ state: State) -> Double {
        var reading = state.reading, total = 0.0
        if !state.openWord.isEmpty {
            let token = wordToken(state.openWord)
            run([reading])
            total += reading.logProbability(of: token)
            reading = Reading(parent: reading, token: token)
        }
        if scoresEndOfText, let endOfTextToken {
            run([reading])
            total += reading.logProbability(of: endOfTextToken)
        }
        return total
    }

    private func wordToken(_ word: String) -> Int {
        model.vocabulary.id(model.tokenizer.lowercase ? word.lowercased() : word)
    }

    /// Runs the model one step, as one batch, for every reading not yet run (their parents first).
    private func run(_ readings: [Reading]) {
        var seen = Set<ObjectIdentifier>()
        let pending = readings.filter { $0.outcome == nil && seen.insert(ObjectIdentifier($0)).inserted }
        guard !pending.isEmpty else { return }
        let parents = pending.compactMap(\.parent)
        run(parents)
        let outcomes = parents.compactMap(\.outcome)
        guard outcomes.count == pending.count else { return }
        let state = RecurrentLayer.State.stacking(outcomes.map { ($0.state, $0.row) })
        let (next, scores) = model.step(pending.map(\.token), state: state)
        for (row, (reading, logits)) in zip(pending, scores).enumerated() {
            reading.outcome = Reading.Outcome(state: next, row: row, logits: logits)
            reading.parent = nil
        }
    }
}

extension LanguageModel {
    /// This model as the scorer of a CTC prefix beam search whose classes are `alphabet` with
    /// the blank at `blank` (see `LanguageModelScorer`).
    public func prefixScorer(alphabet: [Character], blank: Int = 0) throws -> LanguageModelScorer {
        try LanguageModelScorer(model: self, alphabet: alphabet, blank: blank)
    }
}

/// The model's reading of a text: its parent's plus one token, run lazily.
private final class Reading {
    struct Outcome {
        /// The recurrent state after the token: row `row` of a batch [layers, n, H].
        let state: RecurrentLayer.State
        let row: Int
        /// log_softmax of the next token's scores [V], in Double.
        let logProbabilities: [Double]

        init(state: RecurrentLayer.State, row: Int, logits: [Float]) {
            self.state = state
            self.row = row
            let largest = Double(logits.max() ?? 0)
            let shift = largest + log(logits.reduce(0.0) { $0 + exp(Double($1) - largest) })
            logProbabilities = logits.map { Double($0) - shift }
        }
    }

    /// Until the reading is run.
    var parent: Reading?
    let token: Int
    var outcome: Outcome?

    init(parent: Reading?, token: Int) {
        self.parent = parent
        self.token = token
    }

    /// log p(token | this reading); -infinity before it is run.
    func logProbability(of token: Int) -> Double {
        guard let outcome, outcome.logProbabilities.indices.contains(token) else { return -.infinity }
        return outcome.logProbabilities[token]
    }
}

private extension RecurrentLayer.State {
    /// One batch [layers, n, H] from row `row` of each of `rows` states [layers, b_i, H].
    static func stacking(_ rows: [(state: RecurrentLayer.State, row: Int)]) -> RecurrentLayer.State {
        func stack(_ part: (RecurrentLayer.State) -> Variable?) -> Variable? {
            guard let first = rows.first, let shape = part(first.state)?.shape, shape.count == 3 else { return nil }
            let (layers, hidden) = (shape[0], shape[2])
            var values: [Float] = []
            values.reserveCapacity(layers * rows.count * hidden)
            for layer in 0..<layers {
                for (state, row) in rows {
                    guard let source = part(state) else { return nil }
                    let start = (layer * source.shape[1] + row) * hidden
                    values += source.value.scalars[start..<(start + hidden)]
                }
            }
            return Variable(Tensor(shape: [layers, rows.count, hidden], scalars: values))
        }
        return RecurrentLayer.State(hidden: stack(\.hidden) ?? Variable(Tensor(zeros: [0])), cell: stack(\.cell))
    }
}
