import Foundation
import XCTest
@testable import Recurrent

/// `AudioFile`: PCM WAV through `WAVFile` always; FLAC, MP3, Ogg and compressed WAVs through
/// libsndfile where it is installed, checked against the excerpt they were encoded from.
final class AudioFileTests: XCTestCase {
    func bytes(_ name: String) throws -> [UInt8] { [UInt8](try FileContents.read(AudioFixtures.path(name))) }

    func testPCMWAVReadsAsWAVFileReadsIt() throws {
        for name in ["excerpt-s16.wav", "excerpt-extensible-s24-stereo.wav", "excerpt-f32.wav", "excerpt-odd-u8.wav"] {
            XCTAssertEqual(try AudioFile.read(path: AudioFixtures.path(name)), try AudioFixtures.clip(name), name)
            XCTAssertEqual(try AudioFile.decode(bytes(name), name: "upload"), try AudioFixtures.clip(name), name)
        }
        // A damaged WAV keeps WAVFile's reason, whether or not libsndfile would read past it.
        XCTAssertThrowsError(try AudioFile.read(path: AudioFixtures.path("truncated.wav"))) { error in
            XCTAssertTrue("\(error)".contains("truncated: data chunk says 4000 bytes"), "\(error)")
        }
        XCTAssertThrowsError(try AudioFile.decode(Array("hello, not audio".utf8), name: "notes.txt")) { error in
            XCTAssertEqual("\(error)", "notes.txt: not a RIFF/WAVE file (it starts with \"hell\")")
        }
    }

    func testFLACMP3OggAndCompressedWAVThroughLibsndfile() throws {
        guard AudioFile.readsCompressedFormats else {
            XCTAssertThrowsError(try AudioFile.read(path: AudioFixtures.path("not-riff.flac"))) { error in
                XCTAssertTrue("\(error)".hasSuffix("sox in.flac out.wav (or install libsndfile, Debian's libsndfile1, which reads it directly)"), "\(error)")
            }
            throw XCTSkip("libsndfile (Debian's libsndfile1) is not installed: FLAC, MP3 and Ogg are refused naming it (checked); .ci/run installs it")
        }
        let excerpt = try AudioFixtures.clip("excerpt-s16.wav")
        // FLAC (made by sox) is lossless: the very floats of the WAV, from a path and from bytes.
        XCTAssertEqual(try AudioFile.read(path: AudioFixtures.path("not-riff.flac")), excerpt)
        XCTAssertEqual(try AudioFile.decode(bytes("not-riff.flac"), name: "upload"), excerpt)
        // Lossy encodings: the rate, the length and the waveform within the codec's error
        // (root-mean-square of the difference over that of the excerpt; PyPI's soundfile measures
        // 0.052 MP3, 0.039 Vorbis, 0.014 mu-law and A-law, 0.077 IMA and 0.060 MS ADPCM, 0.17 GSM).
        let cases: [(String, Float)] = [("excerpt.mp3", 0.1), ("excerpt.ogg", 0.1), ("refused-mulaw.wav", 0.03), ("refused-alaw.wav", 0.03),
                                        ("refused-ima-adpcm.wav", 0.15), ("refused-ms-adpcm.wav", 0.12), ("refused-gsm.wav", 0.3)]
        func rms(_ values: ArraySlice<Float>) -> Float { (values.reduce(0) { $0 + $1 * $1 } / Float(max(values.count, 1))).squareRoot() }
        for (name, tolerance) in cases {
            let clip = try AudioFile.read(path: AudioFixtures.path(name))
            XCTAssertEqual(clip.sampleRate, 8000, name)
            XCTAssertTrue((2000...2600).contains(clip.samples.count), "\(name): \(clip.samples.count) samples")
            let difference = zip(clip.samples.prefix(2000), excerpt.samples).map { $0 - $1 }
            let error = rms(difference[...]) / rms(excerpt.samples[...])
            XCTAssertLessThan(error, tolerance, name)
        }
        // MP3 inside RIFF (ffmpeg) reads too; its decoder delay is not taken out, so only the rate
        // and a length of at least the excerpt's are checked.
        let mp3InWAV = try AudioFile.read(path: AudioFixtures.path("refused-mp3.wav"))
        XCTAssertEqual(mp3InWAV.sampleRate, 8000)
        XCTAssertGreaterThanOrEqual(mp3InWAV.samples.count, 2000)
        // A FLAC header over garbage: libsndfile's reason, naming the file.
        var broken = try bytes("not-riff.flac")
        for k in 8..<broken.count { broken[k] = UInt8(truncatingIfNeeded: k &* 7) }
        XCTAssertThrowsError(try AudioFile.decode(broken, name: "broken.flac")) { error in
            XCTAssertTrue("\(error)".hasPrefix("broken.flac: "), "\(error)")
        }
    }
}
