import CRecurrentKernels
import Foundation

/// A shaped array of integers, such as the `lengths` of a batch of sequences.
public struct IntegerTensor: Equatable, Sendable {
    /// The extent of each dimension, outermost first.
    public var shape: [Int]
    /// The values, row-major; `values.count == shape.reduce(1, *)`.
    public var values: [Int]

    public init(shape: [Int], values: [Int]) {
        self.shape = shape
        self.values = values
    }

    /// A vector of `values`.
    public init(_ values: [Int]) { self.init(shape: [values.count], values: values) }
}

/// A shaped array of 8-bit integers, such as quantized weights.
public struct Int8Tensor: Equatable, Sendable {
    public var shape: [Int]
    /// Row-major; `values.count == shape.reduce(1, *)`.
    public var values: [Int8]

    public init(shape: [Int], values: [Int8]) {
        self.shape = shape
        self.values = values
    }
}

/// The contents of a safetensors file: an 8-byte little-endian header length, a JSON header
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}`,
/// then the raw little-endian data, offsets counted from the end of the header.
///
/// Reading accepts F32, F64, F16 and BF16 (as Float32 `Tensor`s), I64, I32 (as
/// `IntegerTensor`s) and I8 (as `Int8Tensor`s), and checks every header field against the file, so a damaged or hostile
/// file gives a `RecurrentError` naming the file and the tensor, never a crash. Writing stores
/// floats as F32 (or BF16, by name), integers as I64 and int8 tensors as I8, laid out as the reference implementation lays them out.
public struct SafeTensors: Equatable, Sendable {
    public var tensors: [String: Tensor]
    public var integerTensors: [String: IntegerTensor]
    public var int8Tensors: [String: Int8Tensor]
    /// The header's `__metadata__`.
    public var metadata: [String: String]
    /// The names of `tensors` stored as BF16: read so, or to be written so (their values
    /// rounded to nearest, ties to even).
    public var bfloat16Names: Set<String>

    public init(
        tensors: [String: Tensor] = [:], integerTensors: [String: IntegerTensor] = [:],
        int8Tensors: [String: Int8Tensor] = [:], metadata: [String: String] = [:], bfloat16Names: Set<String> = []
    ) {
        self.tensors = tensors
        self.integerTensors = integerTensors
        self.int8Tensors = int8Tensors
        self.metadata = metadata
        self.bfloat16Names = bfloat16Names
    }

    /// The reference implementation refuses headers past 100 MB; so do we, which also bounds
    /// the memory a hostile header can make the JSON parser use.
    static let maximumHeaderLength = 100_000_000
    static let metadataKey = "__metadata__"

    // MARK: reading

    /// Reads the safetensors file at `path`.
    public static func read(from path: String) throws -> SafeTensors {
        try SafeTensors(decoding: FileContents.read(path), path: path)
    }

    /// Decodes the bytes of a safetensors file; `path` only names the file in error messages.
    public init(decoding data: Data, path: String) throws {
        self = try data.withUnsafeBytes { raw in try Self.decode(raw, path: path) }
    }

    /// Where one tensor lies in the data section, after its header entry has been checked.
    private struct Entry {
        var name: String
        var dtype: DType
        var shape: [Int]
        var count: Int
        var begin: Int
        var end: Int
    }

    private static func decode(_ raw: UnsafeRawBufferPointer, path: String) throws -> SafeTensors {
        func fail(_ reason: String) -> RecurrentError { .invalidFile(path: path, reason: reason) }

        guard raw.count >= 8 else {
            throw fail("file is \(raw.count) bytes, too short for a safetensors file (at least 8)")
        }
        let headerLength = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(raw.count - 8) else {
            throw fail("header length \(headerLength) is larger than the rest of the file (\(raw.count - 8) bytes)")
        }
        guard headerLength <= UInt64(maximumHeaderLength) else {
            throw fail("header length \(headerLength) is over the \(maximumHeaderLength)-byte limit")
        }
        let dataStart = 8 + Int(headerLength)
        let dataCount = raw.count - dataStart

        let headerData = Data(raw[8..<dataStart])
        let header: HeaderValue
        do {
            header = try JSONDecoder().decode(HeaderValue.self, from: headerData)
        } catch {
            let detail = describe(jsonSyntaxOf: headerData) ?? describe(decodingError: error)
            throw fail("header is not valid JSON: \(detail)")
        }
        guard case .object(let fields) = header else {
            throw fail("header is \(header.kind), expected a JSON object")
        }

        var result = SafeTensors()
        var entries: [Entry] = []
        // Sorted, so that a file with several faults always reports the same one.
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            if name == metadataKey {
                result.metadata = try decodeMetadata(value, fail: fail)
            } else {
                entries.append(try decodeEntry(name: name, value, dataCount: dataCount, fail: fail))
            }
        }
        try checkNoOverlap(entries, fail: fail)

        for entry in entries {
            let start = dataStart + entry.begin
            if entry.dtype.isFloatingPoint {
                let scalars = floats(raw, at: start, count: entry.count, dtype: entry.dtype)
                result.tensors[entry.name] = Tensor(shape: entry.shape, scalars: scalars)
                if entry.dtype == .bf16 { result.bfloat16Names.insert(entry.name) }
            } else if entry.dtype == .i8 {
                let values = [Int8](UnsafeRawBufferPointer(rebasing: raw[start..<(start + entry.count)]).map { Int8(bitPattern: $0) })
                result.int8Tensors[entry.name] = Int8Tensor(shape: entry.shape, values: values)
            } else {
                let values = integers(raw, at: start, count: entry.count, dtype: entry.dtype)
                result.integerTensors[entry.name] = IntegerTensor(shape: entry.shape, values: values)
            }
        }
        return result
    }

    private static func decodeMetadata(
        _ value: HeaderValue, fail: (String) -> RecurrentError
    ) throws -> [String: String] {
        switch value {
        case .null:
            return [:]
        case .object(let fields):
            var metadata: [String: String] = [:]
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
                guard case .string(let string) = value else {
                    throw fail("\(metadataKey) value of \"\(key)\" is \(value.kind), expected a string")
                }
                metadata[key] = string
            }
            return metadata
        default:
            throw fail("\(metadataKey) is \(value.kind), expected an object of strings")
        }
    }

    /// Checks one header entry: known dtype, non-negative shape, and offsets that lie in the
    /// data section and span exactly the bytes the shape needs.
    private static func decodeEntry(
        name: String, _ value: HeaderValue, dataCount: Int, fail: (String) -> RecurrentError
    ) throws -> Entry {
        let tensor = "tensor \"\(name)\""
        guard case .object(let fields) = value else {
            throw fail("\(tensor): entry is \(value.kind), expected an object with dtype, shape and data_offsets")
        }
        func field(_ key: String) throws -> HeaderValue {
            guard let value = fields[key] else { throw fail("\(tensor): entry has no \"\(key)\"") }
            return value
        }
        func integers(_ key: String) throws -> [Int] {
            let value = try field(key)
            guard case .array(let items) = value else {
                throw fail("\(tensor): \"\(key)\" is \(value.kind), expected an array of integers")
            }
            return try items.map { item in
                guard case .int(let int) = item else {
                    throw fail("\(tensor): \"\(key)\" holds \(item.kind), expected integers only")
                }
                return int
            }
        }

        let dtypeValue = try field("dtype")
        guard case .string(let dtypeName) = dtypeValue else {
            throw fail("\(tensor): \"dtype\" is \(dtypeValue.kind), expected a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw fail("\(tensor): dtype \"\(dtypeName)\" is not supported (expected \(DType.supportedList))")
        }

        let shape = try integers("shape")
        if let negative = shape.first(where: { $0 < 0 }) {
            throw fail("\(tensor): shape \(shape) has a negative dimension \(negative)")
        }
        guard let count = checkedProduct(shape), let byteCount = checkedProduct([count, dtype.size]) else {
            throw fail("\(tensor): shape \(shape) is too large")
        }

        let offsets = try integers("data_offsets")
        guard offsets.count == 2 else {
            throw fail("\(tensor): \"data_offsets\" has \(offsets.count) numbers, expected [begin, end]")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end else {
            throw fail("\(tensor): data_offsets [\(begin), \(end)] are not an ordered pair of non-negative offsets")
        }
        guard end <= dataCount else {
            throw fail("\(tensor): data_offsets [\(begin), \(end)] lie outside the data section (\(dataCount) bytes)")
        }
        guard end - begin == byteCount else {
            throw fail(
                "\(tensor): data_offsets [\(begin), \(end)] span \(end - begin) bytes, "
                    + "but shape \(shape) of \(dtype.rawValue) needs \(byteCount)")
        }
        return Entry(name: name, dtype: dtype, shape: shape, count: count, begin: begin, end: end)
    }

    /// Two tensors may not share bytes. Gaps are tolerated: they cost nothing to skip.
    private static func checkNoOverlap(_ entries: [Entry], fail: (String) -> RecurrentError) throws {
        let occupied = entries.filter { $0.begin < $0.end }.sorted { ($0.begin, $0.name) < ($1.begin, $1.name) }
        var furthest: Entry?  // the range seen so far that reaches furthest
        for entry in occupied {
            if let previous = furthest, entry.begin < previous.end {
                throw fail(
                    "tensor \"\(entry.name)\" (bytes \(entry.begin)..<\(entry.end)) overlaps "
                        + "tensor \"\(previous.name)\" (bytes \(previous.begin)..<\(previous.end))")
            }
            if furthest.map({ entry.end > $0.end }) ?? true { furthest = entry }
        }
    }

    /// Decodes `count` floating-point values at byte `offset`; the range has been checked.
    private static func floats(_ raw: UnsafeRawBufferPointer, at offset: Int, count: Int, dtype: DType) -> [Float] {
        if dtype == .f32 && hostIsLittleEndian {
            return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count * 4)]))
                initialized = count
            }
        }
        let size = dtype.size
        return (0..<count).map { index in
            let at = offset + index * size
            switch dtype {
            case .f32: return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
            case .f64: return Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))))
            case .f16: return float(fromHalf: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
            case .bf16:
                // bfloat16 is the top half of a Float32.
                let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self))
                return Float(bitPattern: UInt32(bits) << 16)
            case .i64, .i32, .i8: return 0  // not reached: integer dtypes go elsewhere
            }
        }
    }

    /// Decodes `count` integers at byte `offset`; the range has been checked.
    private static func integers(_ raw: UnsafeRawBufferPointer, at offset: Int, count: Int, dtype: DType) -> [Int] {
        (0..<count).map { index in
            switch dtype {
            case .i64: return Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + index * 8, as: Int64.self)))
            case .i32: return Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + index * 4, as: Int32.self)))
            case .f32, .f64, .f16, .bf16, .i8: return 0  // not reached: those go elsewhere
            }
        }
    }

    // MARK: writing

    /// Writes the file atomically: a failed write leaves any previous file at `path` untouched.
    public func write(to path: String) throws {
        try AtomicFile.write(encode(label: path), to: path)
    }

    /// The bytes of the file.
    public func encoded() throws -> Data {
        try encode(label: "safetensors")
    }

    /// Lays out integer tensors (I64), float tensors (F32, then BF16), then int8 tensors (I8), each group in name order, as the
    /// reference implementation does (it sorts by alignment, then name), so every tensor starts
    /// at a multiple of its element size. `label` names the output in error messages.
    private func encode(label: String) throws -> Data {
        func fail(_ reason: String) -> RecurrentError { .invalidArgument("\(label): \(reason)") }

        for name in Set(tensors.keys).union(integerTensors.keys).union(int8Tensors.keys).sorted() {
            if name == Self.metadataKey {
                throw fail("\"\(name)\" is reserved for metadata and cannot name a tensor")
            }
            if tensors[name] != nil && integerTensors[name] != nil {
                throw fail("\"\(name)\" names both a float tensor and an integer tensor")
            }
            if int8Tensors[name] != nil && (tensors[name] != nil || integerTensors[name] != nil) {
                throw fail("\"\(name)\" names both an int8 tensor and another tensor")
            }
        }
        func checkShape(_ name: String, _ shape: [Int], _ count: Int) throws {
            guard shape.allSatisfy({ $0 >= 0 }), Self.checkedProduct(shape) == count else {
                throw fail("tensor \"\(name)\" has shape \(shape) but \(count) values")
            }
        }
        let integers = integerTensors.sorted { $0.key < $1.key }
        if let name = bfloat16Names.sorted().first(where: { tensors[$0] == nil }) {
            throw fail("\"\(name)\" is to be stored as BF16 but is no float tensor")
        }
        let floats = tensors.filter { !bfloat16Names.contains($0.key) }.sorted { $0.key < $1.key }
        let halves = tensors.filter { bfloat16Names.contains($0.key) }.sorted { $0.key < $1.key }
        for (name, tensor) in integers { try checkShape(name, tensor.shape, tensor.values.count) }
        for (name, tensor) in floats + halves { try checkShape(name, tensor.shape, tensor.scalars.count) }
        let bytes = int8Tensors.sorted { $0.key < $1.key }
        for (name, tensor) in bytes { try checkShape(name, tensor.shape, tensor.values.count) }

        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { Self.jsonLiteral($0.key) + ":" + Self.jsonLiteral($0.value) }
            fields.append(Self.jsonLiteral(Self.metadataKey) + ":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        func describe(_ name: String, _ dtype: DType, _ shape: [Int], _ count: Int) {
            let end = offset + count * dtype.size
            fields.append(
                Self.jsonLiteral(name) + ":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":["
                    + shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        for (name, tensor) in integers { describe(name, .i64, tensor.shape, tensor.values.count) }
        for (name, tensor) in floats { describe(name, .f32, tensor.shape, tensor.scalars.count) }
        for (name, tensor) in halves { describe(name, .bf16, tensor.shape, tensor.scalars.count) }
        for (name, tensor) in bytes { describe(name, .i8, tensor.shape, tensor.values.count) }

        var header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
        // Pad with spaces so the data section starts 8-byte aligned.
        header += [UInt8](repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8)

        var data = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: Array($0)) }
        data.append(contentsOf: header)
        for (_, tensor) in integers {
            tensor.values.map { Int64($0).littleEndian }.withUnsafeBufferPointer { data.append($0) }
        }
        for (_, tensor) in floats {
            if Self.hostIsLittleEndian {
                tensor.scalars.withUnsafeBufferPointer { data.append($0) }
            } else {
                tensor.scalars.map { $0.bitPattern.littleEndian }.withUnsafeBufferPointer { data.append($0) }
            }
        }
        for (_, tensor) in halves {
            tensor.scalars.map { rk_bfloat16_bits($0).littleEndian }
                .withUnsafeBufferPointer { data.append($0) }
        }
        for (_, tensor) in bytes { tensor.values.withUnsafeBufferPointer { data.append($0) } }
        return data
    }
}
