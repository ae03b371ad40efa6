/// Anything that scores a label sequence as it grows, for shallow fusion with CTC decoding: a
/// language model, a lexicon, a bias towards some words.
///
/// Labels are the CTC classes (never the blank). How a class maps to the scorer's own tokens is
/// the scorer's business (`LanguageModelScorer` maps each class's character to a token of the
/// language model's vocabulary); `checkCovers` lets a search refuse a scorer whose mapping does
/// not cover its classes.
public protocol CTCPrefixScorer: AnyObject {
    associatedtype State
    /// The state before any label.
    func initialState() -> State
    /// log p(label | the labels the state has read), and the state after it, for each pair
    /// states[i], labels[i]. Called for many hypotheses at once, so a recurrent model can run
    /// them as one batch.
    func extend(_ states: [State], with labels: [Int]) -> [(state: State, logProbability: Double)]
    /// log p(end of text | state), added when a hypothesis is finished (0 if the model has no
    /// such notion).
    func finish(_ state: State) -> Double
    /// Throws, naming what is missing, when the scorer cannot read every label of a search over
    /// `classes` classes whose blank is `blank`. By default every label is accepted.
    func checkCovers(classes: Int, blank: Int) throws
}

extension CTCPrefixScorer {
    public func checkCovers(classes: Int, blank: Int) throws {}
}

/// A scorer's states behind integer handles, so that the search needs no generic parameter and
/// can let go of the states of hypotheses it drops.
protocol PrefixScorerHandles: AnyObject {
    func initialState() -> Int
    func extend(_ handles: [Int], with labels: [Int]) -> [(state: Int, logProbability: Double)]
    func finish(_ handle: Int) -> Double
    /// Forgets every state but these.
    func keepOnly(_ handles: Set<Int>)
}

final class PrefixScorerStore<Scorer: CTCPrefixScorer>: PrefixScorerHandles {
    let scorer: Scorer
    private var states: [Int: Scorer.State] = [:]
    private var nextHandle = 0

    init(_ scorer: Scorer) { self.scorer = scorer }

    private func store(_ state: Scorer.State) -> Int {
        defer { nextHandle += 1 }
        states[nextHandle] = state
        return nextHandle
    }

    func initialState() -> Int { store(scorer.initialState()) }

    func extend(_ handles: [Int], with labels: [Int]) -> [(state: Int, logProbability: Double)] {
        // Handles come from this store and live until keepOnly drops them; a stale one would
        // be a bug in the search, scored as impossible rather than trapping.
        let known = handles.indices.filter { states[handles[$0]] != nil }
        let extended = scorer.extend(known.compactMap { states[handles[$0]] }, with: known.map { labels[$0] })
        var results = handles.map { (state: $0, logProbability: -Double.infinity) }
        for (index, result) in zip(known, extended) {
            results[index] = (store(result.state), result.logProbability)
        }
        return results
    }

    func finish(_ handle: Int) -> Double {
        states[handle].map { scorer.finish($0) } ?? 0
    }

    func keepOnly(_ handles: Set<Int>) {
        states = states.filter { handles.contains($0.key) }
    }
}

/// Boxes an existential scorer (the generic call opens it).
func makePrefixScorerStore<Scorer: CTCPrefixScorer>(_ scorer: Scorer) -> PrefixScorerHandles {
    PrefixScorerStore(scorer)
}
