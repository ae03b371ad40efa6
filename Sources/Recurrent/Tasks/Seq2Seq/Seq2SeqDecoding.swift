import Foundation

extension Seq2SeqNetwork.Encoded {
    /// The rows `rows` of every tensor (a row may repeat: beams of one source share its encoding).
    func gathering(_ rows: [Int]) -> Self {
        Self(outputs: Variable(outputs.value.gathering(rows)), keys: Variable(keys.value.gathering(rows)),
             lengths: rows.map { lengths[$0] }, state: state.gathering(rows))
    }
}

extension RecurrentLayer.State {
    /// Rows `rows` of the batch axis of [L, B, H].
    func gathering(_ rows: [Int]) -> Self {
        func gather(_ tensor: Tensor) -> Tensor {
            let (layers, batch, width) = (tensor.shape[0], tensor.shape[1], tensor.shape[2])
            var values = [Float]()
            values.reserveCapacity(layers * rows.count * width)
            for layer in 0..<layers {
                for row in rows { values += tensor.scalars[((layer * batch + row) * width)..<((layer * batch + row + 1) * width)] }
            }
            return Tensor(shape: [layers, rows.count, width], scalars: values)
        }
        return Self(hidden: Variable(gather(hidden.value)), cell: cell.map { Variable(gather($0.value)) })
    }
}

/// The decoder of an encoder-decoder over an encoded batch, one row per hypothesis, for the
/// shared searches (`SequenceSearch`). Steps record nothing when recording is off.
struct Seq2SeqStepper: StepwiseDecoder {
    struct State {
        var recurrent: RecurrentLayer.State
        /// The encoding of each row's source (rows of one source repeat it).
        var encoded: Seq2SeqNetwork.Encoded
    }

    let network: Seq2SeqNetwork

    /// The start of decoding: one row per source of `encoded`.
    static func start(_ encoded: Seq2SeqNetwork.Encoded) -> State { State(recurrent: encoded.state, encoded: encoded) }

    func step(_ tokens: [Int], state: State) -> (logits: Tensor, state: State, attention: Tensor?) {
        let result = network.step(tokens, state: state.recurrent, encoded: state.encoded)
        return (result.logits.value, State(recurrent: result.state, encoded: state.encoded), result.weights?.value)
    }

    func selecting(_ state: State, rows: [Int]) -> State {
        State(recurrent: state.recurrent.gathering(rows), encoded: state.encoded.gathering(rows))
    }
}

extension Translator {
    /// Outputs begin after `<bos>`, end with `<eos>`, and never hold the unknown or begin token.
    var decodingVocabulary: DecodingVocabulary {
        DecodingVocabulary(beginID: beginID, endID: endID, forbidden: [targetVocabulary.unknownID, beginID])
    }

    var search: SequenceSearch<Seq2SeqStepper> { SequenceSearch(Seq2SeqStepper(network: network), vocabulary: decodingVocabulary) }

    /// The most likely token at every step, until the end token or the length limit.
    func greedy(_ encoded: Seq2SeqNetwork.Encoded, maxLengths: [Int]) -> [Hypothesis] {
        search.greedy(from: Seq2SeqStepper.start(encoded), maxLengths: maxLengths, attentionLengths: encoded.lengths)
    }

    /// The best hypothesis of a beam search for each source (ranked by log-probability / length^alpha).
    func beamSearch(_ encoded: Seq2SeqNetwork.Encoded, maxLengths: [Int], options: DecodingOptions) -> [Hypothesis] {
        let beam = BeamSearchOptions(beamWidth: options.beamWidth, lengthNormalization: options.lengthNormalization)
        return search.beam(from: Seq2SeqStepper.start(encoded), maxLengths: maxLengths, attentionLengths: encoded.lengths, options: beam)
            .map { $0.first ?? Hypothesis(tokens: [], logProbability: 0, score: 0) }
    }
}
