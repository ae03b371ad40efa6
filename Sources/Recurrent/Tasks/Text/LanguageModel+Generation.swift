import Foundation

/// A candidate next word or word completion and its probability under the model.
public struct Completion: Codable, Equatable, Sendable {
    public var text: String
    public var probability: Double
}

extension LanguageModel {
    /// The ids of `text`. Unknown tokens become the unknown token, but a text made only of
    /// unknown tokens gives the model nothing to go on, and is refused.
    public func encode(_ text: String) throws -> [Int] {
        let ids = vocabulary.ids(tokenizer.tokenize(text))
        if !ids.isEmpty && ids.allSatisfy({ $0 == vocabulary.unknownID }) {
            let what = tokenizer.level == .word ? "word" : "character"
            throw RecurrentError.invalidArgument("\"\(text)\": the model knows none of its \(what)s; the text gives it nothing to go on")
        }
        return ids
    }

    /// What an empty prompt starts from: a line break (characters, bytes) or a full stop
    /// (words), as if a new line or sentence began; else the most frequent token.
    var startID: Int {
        let start = tokenizer.level == .word ? "." : "\n"
        return vocabulary.contains(start) ? vocabulary.id(start) : min(1, vocabulary.count - 1)
    }

    /// Reads `ids` (a start token when empty) and returns the state after them and the scores
    /// of the next token [V].
    func read(_ ids: [Int]) -> (state: RecurrentLayer.State, logits: [Float]) {
        let ids = ids.isEmpty ? [startID] : ids
        return GradientMode.withoutRecording {
            let result = network.run(Variable(Tensor(shape: [1, ids.count], scalars: ids.map(Float.init))), state: nil)
            let width = vocabulary.count
            return (result.state, Array(result.logits.value.scalars.suffix(width)))
        }
    }

    /// Continues `prompt` with `length` sampled tokens (never the unknown token), calling `emit`
    /// with each piece of text as soon as it is known, and returns the generated text.
    @discardableResult
    public func generate(prompt: String = "", length: Int, sampling: SamplingOptions = SamplingOptions(), seed: UInt64 = 0,
                         emit: (String) -> Void = { _ in }) throws -> String {
        var stream = try TextGenerationStream(self, prompt: prompt, length: length, sampling: sampling, seed: seed)
        var generated = ""
        while let piece = stream.next() {
            guard !piece.isEmpty else { continue }
            generated += piece
            emit(piece)
        }
        return generated
    }

    /// The text a sampled token adds. Bytes wait until they form a whole character (or four
    /// bytes that never will, shown as U+FFFD).
    func piece(for token: String, after shown: String, pendingBytes: inout [UInt8]) -> String {
        guard tokenizer.level == .byte else { return tokenizer.separator(before: token, after: shown) + token }
        pendingBytes += token.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
        if let decoded = String(validating: pendingBytes, as: UTF8.self) {
            pendingBytes = []
            return decoded
        }
        guard pendingBytes.count >= 4 else { return "" }
        defer { pendingBytes = [] }
        return String(decoding: pendingBytes, as: UTF8.self)
    }

    /// One token for each row of `state`: ids [n] -> the new state and scores [n][V].
    func step(_ ids: [Int], state: RecurrentLayer.State) -> (RecurrentLayer.State, [[Float]]) {
        GradientMode.withoutRecording {
            let result = network.run(Variable(Tensor(shape: [ids.count, 1], scalars: ids.map(Float.init))), state: state)
            let width = vocabulary.count, scores = result.logits.value.scalars
            return (result.state, (0..<ids.count).map { Array(scores[($0 * width)..<(($0 + 1) * width)]) })
        }
    }

    func step(_ id: Int, state: RecurrentLayer.State) -> (RecurrentLayer.State, [Float]) {
        let (next, scores) = step([id], state: state)
        return (next, scores[0])
    }
}

extension RecurrentLayer.State {
    /// The states of the batch rows `rows`, in that order: [L, B, H] -> [L, rows.count, H].
    func selectingRows(_ rows: [Int]) -> RecurrentLayer.State {
        func pick(_ variable: Variable) -> Variable {
            let (layers, batch, hidden) = (variable.shape[0], variable.shape[1], variable.shape[2])
            let values = variable.value.scalars
            var picked: [Float] = []
            picked.reserveCapacity(layers * rows.count * hidden)
            for layer in 0..<layers {
                for row in rows {
                    let start = (layer * batch + row) * hidden
                    picked += values[start..<(start + hidden)]
                }
            }
            return Variable(Tensor(shape: [layers, rows.count, hidden], scalars: picked))
        }
        return RecurrentLayer.State(hidden: pick(hidden), cell: cell.map(pick))
    }
}

// MARK: - Completion

extension LanguageModel {
    /// The `count` most likely next words after `text` (word level), or the most likely
    /// completions of the word `text` ends in (character and byte levels: the letters typed
    /// so far, extended until the model ends the word; after a space, the next word).
    ///
    /// A word model reads `text` as whole words: it predicts the next word and does not
    /// complete a partly typed one.
    public func complete(_ text: String, count: Int) throws -> [Completion] {
        guard count >= 1 else { throw RecurrentError.invalidArgument("the number of completions must be at least 1, got \(count)") }
        let (state, logits) = read(try encode(text))
        if tokenizer.level == .word {
            let probabilities = softmax(logits.map(Double.init))
            return probabilities.indices
                .filter { $0 != vocabulary.unknownID && vocabulary.token($0).unicodeScalars.contains(where: Self.isWordScalar) }
                .sorted { probabilities[$0] > probabilities[$1] }
                .prefix(count)
                .map { Completion(text: vocabulary.token($0), probability: probabilities[$0]) }
        }
        let typed = String(String.UnicodeScalarView(text.unicodeScalars.reversed().prefix(while: Self.isWordScalar).reversed()))
        return wordCompletions(typed: typed, state: state, logits: logits, count: count)
    }

    /// Letters, digits and apostrophes make words; bytes past ASCII belong to letters too.
    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isAlphabetic || scalar.properties.numericType != nil || scalar == "'" || scalar == "\u{2019}"
            || (0x80...0xFF).contains(scalar.value)
    }

    /// Beam search over characters: partial words keep extending by word characters; a word
    /// ends with the probability of any other token (space, punctuation). Stops when no partial
    /// word can beat the `count`-th finished one, or after 24 characters.
    func wordCompletions(typed: String, state: RecurrentLayer.State, logits: [Float], count: Int) -> [Completion] {
        struct Partial { var added: String; var logProbability: Double; var row: Int }
        let width = max(8, 2 * count)
        let wordTokens = Set(vocabulary.tokens.indices.filter {
            $0 != vocabulary.unknownID && vocabulary.token($0).unicodeScalars.allSatisfy(Self.isWordScalar)
        })
        var beam = [Partial(added: "", logProbability: 0, row: 0)]
        var (states, scores) = (state, [logits])
        var finished: [Completion] = []
        for _ in 0..<24 {
            var extensions: [(partial: Partial, token: Int)] = []
            for partial in beam {
                let probabilities = softmax(scores[partial.row].map(Double.init), excluding: [vocabulary.unknownID])
                let boundary = probabilities.indices.filter { !wordTokens.contains($0) }.reduce(0) { $0 + probabilities[$1] }
                let word = typed + partial.added
                if !word.isEmpty && boundary > 0 {
                    finished.append(Completion(text: word, probability: exp(partial.logProbability) * boundary))
                }
                for token in wordTokens.sorted(by: { probabilities[$0] > probabilities[$1] }).prefix(width) where probabilities[token] > 0 {
                    extensions.append((Partial(added: partial.added + vocabulary.token(token),
                                               logProbability: partial.logProbability + log(probabilities[token]), row: partial.row), token))
                }
            }
            finished.sort { $0.probability > $1.probability }
            extensions.sort { $0.partial.logProbability > $1.partial.logProbability }
            let threshold = finished.count >= count ? log(finished[count - 1].probability) : -Double.infinity
            let kept = extensions.prefix(width).filter { $0.partial.logProbability > threshold }
            guard !kept.isEmpty else { break }
            let (nextStates, nextScores) = step(kept.map(\.token), state: states.selectingRows(kept.map(\.partial.row)))
            beam = kept.enumerated().map { Partial(added: $1.partial.added, logProbability: $1.partial.logProbability, row: $0) }
            (states, scores) = (nextStates, nextScores)
        }
        return Array(finished.sorted { $0.probability > $1.probability }.prefix(count))
    }
}
