import Foundation
import Recurrent

/// What a request says of its sequence (the sequence extension's parameters).
struct SequenceControl: Sendable, Hashable {
    /// The model's name and the client's sequence_id (a number or a string, as text).
    var model: String
    var id: String
    var start: Bool
    var end: Bool

    /// Reads sequence_id, sequence_start and sequence_end; nil when no sequence is named
    /// (absent, 0 or "", as Triton reads them).
    static func read(_ parameters: [String: JSON], model: String) throws -> SequenceControl? {
        func flag(_ name: String) throws -> Bool {
            switch parameters[name] {
            case nil: return false
            case .bool(let value)?: return value
            case let other?: throw ServerError.badRequest("parameter \"\(name)\" is \(other.kindName), expected a boolean")
            }
        }
        let start = try flag("sequence_start"), end = try flag("sequence_end")
        let id: String
        switch parameters["sequence_id"] {
        case nil: id = ""
        case .number(let number)?:
            guard number.rounded() == number, number >= 0, number < 1.8e19 else {
                throw ServerError.badRequest("parameter \"sequence_id\" is \(number), expected a whole number 0 or more, or a string")
            }
            id = number == 0 ? "" : String(UInt64(number))
        case .string(let text)?: id = text
        case let other?: throw ServerError.badRequest("parameter \"sequence_id\" is \(other.kindName), expected a number or a string")
        }
        guard !id.isEmpty else {
            if start || end { throw ServerError.badRequest("sequence_start or sequence_end given without a sequence_id") }
            return nil
        }
        guard id.utf8.count <= 256 else { throw ServerError.badRequest("parameter \"sequence_id\" is longer than 256 bytes") }
        return SequenceControl(model: model, id: id, start: start, end: end)
    }

    var key: SessionKey { SessionKey(model: model, id: id) }
}

struct SessionKey: Hashable, Sendable {
    var model: String
    var id: String
}

/// The recurrent state each live sequence left, held between its requests. Touched only on the
/// executor's thread. A sequence ends with sequence_end or after `idleTimeout` seconds without
/// a request; a new one beyond `limit` is refused (429), never made room for by evicting one.
final class SessionStore {
    struct Entry {
        var hidden: Tensor?   // [L, 1, H]
        var cell: Tensor?
        /// A task's own state for a sequence (an anomaly detector's scorer), instead of tensors.
        var task: AnyObject?
        var lastUsed: Double
    }

    let limit: Int
    let idleTimeout: Double
    private(set) var entries: [SessionKey: Entry] = [:]
    private var counts: [String: Int] = [:]
    private var lastSweep = 0.0
    var onCountChange: (String, Int) -> Void = { _, _ in }

    init(limit: Int, idleTimeout: Double) {
        self.limit = limit
        self.idleTimeout = idleTimeout
    }

    func count(model: String) -> Int { counts[model, default: 0] }

    private func set(_ key: SessionKey, _ entry: Entry?) {
        let previous: Entry?
        if let entry { previous = entries.updateValue(entry, forKey: key) } else { previous = entries.removeValue(forKey: key) }
        let (had, has) = (previous != nil, entry != nil)
        if had != has {
            counts[key.model, default: 0] += has ? 1 : -1
            onCountChange(key.model, counts[key.model, default: 0])
        }
    }

    /// The state a request starts from: its own h0/c0 (or zeros) when it starts the sequence,
    /// else the state the sequence's previous request left.
    func initialState(for control: SequenceControl, inputs: ModelRunner.Inputs) throws -> (hidden: Tensor?, cell: Tensor?) {
        if control.start {
            try checkRoom(for: control)
            return (inputs.h0, inputs.c0)
        }
        guard let entry = entries[control.key], let hidden = entry.hidden else { throw Self.notStarted(control) }
        return (hidden, entry.cell)
    }

    /// A new sequence beyond the limit is refused; a live one is never evicted for it.
    private func checkRoom(for control: SequenceControl) throws {
        if entries[control.key] == nil && entries.count >= limit {
            throw ServerError.tooManySessions("\(limit) sequences are live (--max-sessions); end one (sequence_end) or wait for one to idle out")
        }
    }

    private static func notStarted(_ control: SequenceControl) -> ServerError {
        ServerError.badRequest("sequence_id \(control.id) of model \"\(control.model)\" was never started, has ended or idled out; "
                               + "send sequence_start: true first")
    }

    /// Keeps the state after a request, or lets it go with sequence_end.
    func store(_ control: SequenceControl, hidden: Tensor?, cell: Tensor?, now: Double) {
        guard let hidden, !control.end else { return set(control.key, nil) }
        set(control.key, Entry(hidden: hidden, cell: cell, lastUsed: now))
    }

    /// A task's state for a request: a new one (`make`) when the request starts the sequence,
    /// else the one its previous request left, under the same limit as tensor states.
    func taskState<State: AnyObject>(for control: SequenceControl, make: () throws -> State) throws -> State {
        if control.start {
            try checkRoom(for: control)
            return try make()
        }
        guard let state = entries[control.key]?.task as? State else { throw Self.notStarted(control) }
        return state
    }

    /// Keeps a task's state after a request, or lets it go with sequence_end.
    func store(_ control: SequenceControl, task: AnyObject, now: Double) {
        guard !control.end else { return set(control.key, nil) }
        set(control.key, Entry(hidden: nil, cell: nil, task: task, lastUsed: now))
    }

    /// Ends the sequences idle longer than the timeout (at most once a second).
    func sweep(now: Double) {
        guard now - lastSweep >= 1 else { return }
        lastSweep = now
        for key in entries.filter({ now - $0.value.lastUsed > idleTimeout }).map(\.key) { set(key, nil) }
    }
}
