import Foundation
import XCTest
@testable import Recurrent

/// Fixtures/audio (made by scripts/audio_reference.py): Asterisk speech in several encodings,
/// files to refuse, and torchaudio's outputs in reference.safetensors.
enum AudioFixtures {
    static var directory: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/audio") }

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static func clip(_ name: String) throws -> AudioClip { try WAVFile.read(path: path(name)) }

    /// torchaudio's outputs, loaded once.
    static let references: [String: Tensor] = {
        (try? readFixtureTensors(directory.appendingPathComponent("reference.safetensors"))) ?? [:]
    }()

    static func reference(_ key: String) throws -> Tensor {
        guard let tensor = references[key] else { throw RecurrentError.invalidArgument("reference.safetensors has no \(key)") }
        return tensor
    }
}

/// The largest |a - b| over two equally long arrays (infinity when the lengths differ).
func largestDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
