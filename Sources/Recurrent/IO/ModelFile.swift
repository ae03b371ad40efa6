import Foundation

/// A saved model: its architecture, its tensors, and the caller's metadata (preprocessing,
/// vocabulary, training record, ...), in one safetensors file that other tools can also read.
///
/// The header's `__metadata__` holds `"format": "recurrent-model"`, `"format_version": "1"`,
/// `"architecture"`: the `LayerSpec` as JSON, and the caller's keys beside them. Tensor names
/// are whatever the caller chose, typically PyTorch's ("weight_ih_l0", "0.weight").
///
/// Version 2 adds quantized weights (`recurrent quantize`): a matrix stored as int8 by rows is
/// an I8 tensor under its name and its rows' scales, F32 [rows], under the name + ".scale".
/// Files without them are written as version 1, which every build reads; builds that know only
/// version 1 refuse a quantized file, asking for an upgrade, instead of misreading it.
public struct ModelFile: Equatable, Sendable {
    public static let format = "recurrent-model"
    /// The newest version this build reads and writes. Bump it when a change would make older
    /// builds misread new files; older builds then say so instead of loading garbage.
    public static let formatVersion = 2
    /// The version of files without quantized weights.
    public static let floatFormatVersion = 1
    /// The suffix of the name of an int8 matrix's scales.
    public static let scaleSuffix = ".scale"
    /// Metadata keys the format uses itself; callers' metadata may not use them.
    public static let reservedMetadataKeys: Set<String> = ["format", "format_version", "architecture"]

    public var architecture: LayerSpec
    public var tensors: [String: Tensor]
    /// Matrices stored as int8 by rows, beside `tensors` (names distinct from theirs).
    public var int8Tensors: [String: Int8Matrix]
    /// The caller's metadata, without the reserved keys.
    public var metadata: [String: String]
    /// The names of `tensors` stored as BF16 (`recurrent quantize --bf16`): readable as floats
    /// by every build, so they need no new version.
    public var bfloat16Names: Set<String>

    public init(architecture: LayerSpec, tensors: [String: Tensor], int8Tensors: [String: Int8Matrix] = [:],
                metadata: [String: String] = [:], bfloat16Names: Set<String> = []) {
        self.architecture = architecture
        self.tensors = tensors
        self.int8Tensors = int8Tensors
        self.metadata = metadata
        self.bfloat16Names = bfloat16Names
    }

    /// Writes the model atomically: a failed write leaves any previous file at `path` untouched.
    public func write(to path: String) throws {
        if let key = metadata.keys.sorted().first(where: Self.reservedMetadataKeys.contains) {
            throw RecurrentError.invalidArgument("\(path): metadata key \"\(key)\" is reserved by the model file format")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]  // the same model always gives the same bytes
        let architectureJSON: Data
        do {
            architectureJSON = try encoder.encode(architecture)
        } catch {
            throw RecurrentError.invalidArgument("\(path): cannot encode the architecture as JSON: \(error)")
        }
        var header = metadata
        header["format"] = Self.format
        header["format_version"] = String(int8Tensors.isEmpty ? Self.floatFormatVersion : Self.formatVersion)
        header["architecture"] = String(decoding: architectureJSON, as: UTF8.self)
        var floats = tensors, bytes: [String: Int8Tensor] = [:]
        for (name, matrix) in int8Tensors {
            guard floats[name] == nil, floats[name + Self.scaleSuffix] == nil else {
                throw RecurrentError.invalidArgument("\(path): \"\(name)\" names both a float tensor and an int8 matrix")
            }
            bytes[name] = Int8Tensor(shape: [matrix.rows, matrix.columns], values: matrix.values)
            floats[name + Self.scaleSuffix] = Tensor(shape: [matrix.rows], scalars: matrix.scales)
        }
        try SafeTensors(tensors: floats, int8Tensors: bytes, metadata: header, bfloat16Names: bfloat16Names).write(to: path)
    }

    /// Reads a model written by `write(to:)`, checking that it is one and that this build
    /// understands its version.
    public static func read(from path: String) throws -> ModelFile {
        let file = try SafeTensors.read(from: path)
        func fail(_ reason: String) -> RecurrentError { .invalidFile(path: path, reason: reason) }
        let expected = "expected \"\(format)\" version \(formatVersion)"

        guard let foundFormat = file.metadata["format"] else {
            throw fail(
                "not a Recurrent model file: its metadata has no \"format\" (\(expected)); "
                    + "a plain safetensors file of weights can be read with SafeTensors.read")
        }
        guard foundFormat == format else {
            throw fail("not a Recurrent model file: format is \"\(foundFormat)\", \(expected)")
        }
        guard let foundVersion = file.metadata["format_version"] else {
            throw fail("model file has no \"format_version\" in its metadata (\(expected))")
        }
        guard let version = Int(foundVersion), (floatFormatVersion...formatVersion).contains(version) else {
            if let number = Int(foundVersion), number > formatVersion {
                throw fail(
                    "model format version \(number) is newer than this build reads (version \(formatVersion)); "
                        + "upgrade Recurrent to read this file")
            }
            throw fail("model format version \"\(foundVersion)\" is not supported (\(expected))")
        }
        guard let architectureJSON = file.metadata["architecture"] else {
            throw fail("model file has no \"architecture\" in its metadata (expected a LayerSpec as JSON)")
        }
        let architecture: LayerSpec
        do {
            architecture = try JSONDecoder().decode(LayerSpec.self, from: Data(architectureJSON.utf8))
        } catch {
            throw fail("architecture does not decode as a LayerSpec: \(SafeTensors.describe(decodingError: error))")
        }
        // Model parameters are floats or int8 matrices; refusing beats silently dropping a tensor.
        if let name = file.integerTensors.keys.sorted().first {
            throw fail("tensor \"\(name)\" holds integers; a model file holds float tensors and int8 matrices only")
        }
        if version == floatFormatVersion, let name = file.int8Tensors.keys.sorted().first {
            throw fail("tensor \"\(name)\" holds int8 values, which a version \(floatFormatVersion) model file does not have")
        }
        var tensors = file.tensors, int8Tensors: [String: Int8Matrix] = [:]
        for (name, stored) in file.int8Tensors.sorted(by: { $0.key < $1.key }) {
            guard stored.shape.count == 2 else {
                throw fail("int8 tensor \"\(name)\" has shape \(stored.shape), expected a matrix [rows, columns]")
            }
            let scaleName = name + scaleSuffix
            guard let scales = tensors.removeValue(forKey: scaleName), scales.shape == [stored.shape[0]] else {
                throw fail("int8 tensor \"\(name)\" needs its row scales \"\(scaleName)\", F32 [\(stored.shape[0])]")
            }
            do {
                int8Tensors[name] = try Int8Matrix(rows: stored.shape[0], columns: stored.shape[1], values: stored.values,
                                                   scales: scales.scalars, name: "tensor \"\(scaleName)\"")
            } catch let error as RecurrentError {
                throw fail(error.description)
            }
        }
        return ModelFile(
            architecture: architecture, tensors: tensors, int8Tensors: int8Tensors,
            metadata: file.metadata.filter { !reservedMetadataKeys.contains($0.key) }, bfloat16Names: file.bfloat16Names)
    }
}
