import Foundation

/// What a task keeps between training steps besides the parameters, the optimizer and the
/// Trainer's own state (data order, generators, history): the recurrent state carried by
/// truncated backpropagation through time, figures recorded after each validation, ... A task
/// with such state hands the Trainer a `TrainingStateHook`; checkpoints then carry it, one part
/// per process.
public struct TrainingTaskState: Sendable, Equatable {
    /// Large values (recurrent states).
    public var tensors: [String: Tensor]
    /// Small values, as JSON.
    public var json: Data

    public init(tensors: [String: Tensor] = [:], json: Data = Data("{}".utf8)) {
        self.tensors = tensors
        self.json = json
    }

    /// `value` encoded as JSON beside `tensors`.
    public init<Value: Encodable>(_ value: Value, tensors: [String: Tensor] = [:]) throws {
        self.init(tensors: tensors, json: try JSONEncoder().encode(value))
    }

    /// The JSON part decoded; a checkpoint of another task or version gives an error saying so.
    public func decode<Value: Decodable>(_ type: Value.Type) throws -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: json)
        } catch {
            throw RecurrentError.invalidArgument("the checkpoint's task state does not fit this task (\(error))")
        }
    }

    /// A tensor the state must hold.
    public func tensor(_ name: String) throws -> Tensor {
        guard let tensor = tensors[name] else {
            throw RecurrentError.invalidArgument("the checkpoint's task state has no tensor \"\(name)\"")
        }
        return tensor
    }
}

/// How the Trainer saves and restores a task's own state (see `TrainingTaskState`). `save` is
/// called between steps, `restore` before the first step of a resumed run.
public struct TrainingStateHook {
    public var save: () throws -> TrainingTaskState
    public var restore: (TrainingTaskState) throws -> Void

    public init(save: @escaping () throws -> TrainingTaskState, restore: @escaping (TrainingTaskState) throws -> Void) {
        self.save = save
        self.restore = restore
    }
}

/// What a run is made of beyond the Trainer's options: the task's configuration (as JSON, so
/// that a changed field can be named) and a fingerprint of the training data. A checkpoint
/// stores it and a resumed run must match it; data-parallel processes must agree on it.
public struct RunIdentity: Sendable, Equatable {
    /// The task's configuration, JSON with sorted keys.
    public var configuration: Data
    public var data: UInt64

    public init<Configuration: Encodable>(configuration: Configuration, data: Fingerprint) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        self.configuration = try encoder.encode(configuration)
        self.data = data.value
    }

    init(configuration: Data, data: UInt64) {
        self.configuration = configuration
        self.data = data
    }

    /// The first field of the configuration whose value differs, as "field: A in the checkpoint, B now".
    func differences(from stored: RunIdentity) -> [String] {
        var result: [String] = []
        func fields(_ json: Data) -> [String: String] {
            guard let object = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else { return [:] }
            return object.mapValues { value in
                (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]))
                    .map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
            }
        }
        let old = fields(stored.configuration), new = fields(configuration)
        for key in Set(old.keys).union(new.keys).sorted() where old[key] != new[key] {
            result.append("the task's \(key) (\(old[key] ?? "absent") in the checkpoint, \(new[key] ?? "absent") now)")
        }
        if stored.data != data {
            result.append(String(format: "the training data (fingerprint %016llx in the checkpoint, %016llx now)", stored.data, data))
        }
        return result
    }
}

/// A 64-bit FNV-1a hash of what a run reads, fed piece by piece; stable across machines.
public struct Fingerprint: Sendable, Equatable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add(bytes: UnsafeRawBufferPointer) {
        for byte in bytes { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }

    public mutating func add(_ integer: Int) {
        withUnsafeBytes(of: Int64(integer).littleEndian) { add(bytes: $0) }
    }

    public mutating func add(_ integers: [Int]) {
        add(integers.count)
        for integer in integers { add(integer) }
    }

    public mutating func add(_ text: String) {
        add(text.utf8.count)
        var text = text
        text.withUTF8 { add(bytes: UnsafeRawBufferPointer($0)) }
    }

    public mutating func add(_ tensor: Tensor) {
        add(tensor.shape)
        tensor.withUnsafeBufferPointer { values in
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { add(bytes: $0) } }
        }
    }

    public mutating func add(_ tensors: [Tensor]) {
        add(tensors.count)
        for tensor in tensors { add(tensor) }
    }
}
