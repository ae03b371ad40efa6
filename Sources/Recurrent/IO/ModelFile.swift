import Foundation

/// A saved model: its architecture, its tensors, and the caller's metadata (preprocessing,
/// vocabulary, training record, ...), in one safetensors file that other tools can also read.
///
/// The header's `__metadata__` holds `"format": "recurrent-model"`, `"format_version": "1"`,
/// `"architecture"`: the `LayerSpec` as JSON, and the caller's keys beside them. Tensor names
/// are whatever the caller chose, typically PyTorch's ("weight_ih_l0", "0.weight").
public struct ModelFile: Equatable, Sendable {
    public static let format = "recurrent-model"
    /// The version this build writes and reads. Bump it when a change would make older builds
    /// misread new files; older builds then say so instead of loading garbage.
    public static let formatVersion = 1
    /// Metadata keys the format uses itself; callers' metadata may not use them.
    public static let reservedMetadataKeys: Set<String> = ["format", "format_version", "architecture"]

    public var architecture: LayerSpec
    public var tensors: [String: Tensor]
    /// The caller's metadata, without the reserved keys.
    public var metadata: [String: String]

    public init(architecture: LayerSpec, tensors: [String: Tensor], metadata: [String: String] = [:]) {
        self.architecture = architecture
        self.tensors = tensors
        self.metadata = metadata
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
        header["format_version"] = String(Self.formatVersion)
        header["architecture"] = String(decoding: architectureJSON, as: UTF8.self)
        try SafeTensors(tensors: tensors, metadata: header).write(to: path)
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
        guard foundVersion == String(formatVersion) else {
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
        // Model parameters are floats; refusing beats silently dropping a tensor.
        if let name = file.integerTensors.keys.sorted().first {
            throw fail("tensor \"\(name)\" holds integers; a model file holds float tensors only")
        }
        return ModelFile(
            architecture: architecture, tensors: file.tensors,
            metadata: file.metadata.filter { !reservedMetadataKeys.contains($0.key) })
    }
}
