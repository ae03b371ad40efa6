import Foundation
import XCTest
@testable import Recurrent

/// The WAV reader on real speech in every encoding it takes (values known exactly from the
/// 16-bit source), the encodings and broken files it must refuse, the writer, and a fuzz run.
final class WAVFileTests: ScratchDirectoryTestCase {
    /// The 16-bit samples of a plain 44-byte-header file, read without the reader under test.
    func int16Samples(_ name: String) throws -> [Int16] {
        let bytes = try [UInt8](Data(contentsOf: AudioFixtures.directory.appendingPathComponent(name)))
        return stride(from: 44, to: bytes.count - 1, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
    }

    /// you-entered.wav's samples 1600..<3600 (first channel of the stereo files) and
    /// foxtrot's same stretch (second channel).
    func excerpts() throws -> (you: [Int16], fox: [Int16]) {
        (try int16Samples("excerpt-s16.wav"), Array(try int16Samples("foxtrot-8k.wav")[1600..<3600]))
    }

    func testEveryEncodingDecodesToTheSameSpeech() throws {
        let (you, fox) = try excerpts()
        XCTAssertEqual(you.count, 2000)
        let exact = you.map { Float($0) / 32768 }
        // 8-bit keeps the top byte: (v >> 8) / 128.
        let eightBit = you.map { Float(Int($0) >> 8) / 128 }
        let stereo = zip(you, fox).map { (Float($0) / 32768 + Float($1) / 32768) / 2 }
        let expected: [(String, [Float])] = [
            ("excerpt-s16.wav", exact), ("excerpt-s24.wav", exact), ("excerpt-s32.wav", exact),
            ("excerpt-f32.wav", exact), ("excerpt-f64.wav", exact), ("excerpt-extensible-f32.wav", exact),
            ("excerpt-extra-chunks.wav", exact), ("excerpt-u8.wav", eightBit), ("excerpt-odd-u8.wav", Array(eightBit.dropLast())),
            ("excerpt-stereo-s16.wav", stereo), ("excerpt-extensible-s24-stereo.wav", stereo),
        ]
        for (name, values) in expected {
            let clip = try AudioFixtures.clip(name)
            XCTAssertEqual(clip.sampleRate, 8000, name)
            XCTAssertEqual(clip.samples.count, values.count, name)
            XCTAssertEqual(largestDifference(clip.samples, values), 0, name)
        }
        XCTAssertGreaterThan(exact.map(abs).max() ?? 0, 0.3, "the excerpt is speech, not silence")
    }

    func testOtherRatesAndTheWholePrompt() throws {
        let sixteen = try AudioFixtures.clip("excerpt-16k.wav"), fortyFour = try AudioFixtures.clip("excerpt-44k.wav")
        XCTAssertEqual([sixteen.sampleRate, sixteen.samples.count], [16000, 4000])
        XCTAssertEqual([fortyFour.sampleRate, fortyFour.samples.count], [44100, 11025])
        let fox = try AudioFixtures.clip("foxtrot-8k.wav")
        XCTAssertEqual(fox.samples.count, 7783)
        XCTAssertEqual(fox.duration, 7783.0 / 8000, accuracy: 1e-12)
        XCTAssertEqual(fox.peakAmplitude, 28291.0 / 32768)
        XCTAssertEqual(fox.samples, try int16Samples("foxtrot-8k.wav").map { Float($0) / 32768 })
    }

    /// The error of decoding `name`'s bytes (or `bytes`), as one line.
    func refusal(_ name: String, bytes: [UInt8]? = nil, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let clip = try bytes.map { try WAVFile.decode($0, name: name) } ?? AudioFixtures.clip(name)
            XCTFail("\(name) was read (\(clip.samples.count) samples), not refused", file: file, line: line)
        } catch let RecurrentError.invalidFile(path, reason) {
            XCTAssertTrue(path.hasSuffix(name), "the error names \(path), not \(name)", file: file, line: line)
            XCTAssertFalse(reason.contains("\n"), file: file, line: line)
            return reason
        } catch {
            XCTFail("\(name): \(error)", file: file, line: line)
        }
        return ""
    }

    func testCompressedEncodingsAreRefusedByName() {
        let names = [("refused-mulaw.wav", "mu-law (format 7)"), ("refused-alaw.wav", "A-law (format 6)"),
                     ("refused-ima-adpcm.wav", "IMA ADPCM (format 17)"), ("refused-ms-adpcm.wav", "Microsoft ADPCM (format 2)"),
                     ("refused-gsm.wav", "GSM 6.10 (format 49)"), ("refused-mp3.wav", "MPEG layer 3 (MP3) (format 85)")]
        for (file, encoding) in names {
            let reason = refusal(file)
            XCTAssertTrue(reason.hasPrefix("encoding \(encoding) is not supported; convert to PCM"), reason)
            XCTAssertTrue(reason.contains("sox in.wav -e signed -b 16 out.wav"), reason)
        }
    }

    func testBrokenFilesAreRefusedWithTheReason() {
        XCTAssertEqual(refusal("truncated.wav"), "truncated: data chunk says 4000 bytes, file has 1001")
        XCTAssertEqual(refusal("empty-data.wav"), "data chunk is empty (no samples)")
        XCTAssertEqual(refusal("not-riff.flac"), "not a RIFF/WAVE file: it is a FLAC file, not RIFF/WAVE; convert it, e.g. sox in.flac out.wav")
        XCTAssertEqual(refusal("notes.txt", bytes: Array("hello, world".utf8)), "not a RIFF/WAVE file (it starts with \"hell\")")
        let mp3 = "not a RIFF/WAVE file: it is an MP3 file, not RIFF/WAVE; convert it, e.g. ffmpeg -i in.mp3 out.wav"
        XCTAssertEqual(refusal("excerpt.mp3"), mp3, "a frame's sync at the start (MPEG-2.5 at 8 kHz: ff e3)")
        XCTAssertEqual(refusal("tagged.mp3", bytes: Array("ID3\u{4}\0".utf8)), mp3)
        XCTAssertEqual(refusal("zeros.wav", bytes: [0, 0, 0]), "not a RIFF/WAVE file (it starts with bytes 00 00 00)")
        XCTAssertEqual(refusal("empty.wav", bytes: []), "empty file, not a RIFF/WAVE file")
        XCTAssertEqual(refusal("avi.wav", bytes: Array("RIFF\u{4}\0\0\0AVI ".utf8)), "a RIFF file of form \"AVI \", not WAVE")
        XCTAssertThrowsError(try WAVFile.read(path: path("missing.wav"))) { error in
            XCTAssertEqual(error as? RecurrentError, .io(path: path("missing.wav"), reason: "cannot read: No such file or directory"))
        }
    }

    /// A 16-bit mono file of `samples` with fmt fields replaced, for the header checks.
    func header(tag: UInt16 = 1, channels: UInt16 = 1, rate: UInt32 = 8000, blockAlign: UInt16 = 2, bits: UInt16 = 16,
                fmtSize: UInt32 = 16, data: [UInt8] = [1, 0, 2, 0, 3, 0, 4, 0]) -> [UInt8] {
        func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
        var fmt = le(tag) + le(channels) + le(rate) + le(rate * UInt32(blockAlign)) + le(blockAlign) + le(bits)
        fmt += [UInt8](repeating: 0, count: max(0, Int(fmtSize) - 16))
        let body = Array("WAVEfmt ".utf8) + le(fmtSize) + fmt.prefix(Int(fmtSize)) + Array("data".utf8) + le(UInt32(data.count)) + data
        return Array("RIFF".utf8) + le(UInt32(body.count)) + body
    }

    func testHeaderChecks() throws {
        XCTAssertEqual(try WAVFile.decode(header(), name: "ok.wav").samples, [1, 2, 3, 4].map { Float($0) / 32768 })
        XCTAssertEqual(refusal("mono0.wav", bytes: header(channels: 0, blockAlign: 0)), "fmt chunk says zero channels")
        XCTAssertEqual(refusal("rate0.wav", bytes: header(rate: 0)), "fmt chunk says a sample rate of 0 Hz")
        XCTAssertEqual(refusal("align.wav", bytes: header(blockAlign: 3)),
                       "bits do not fit the block align: 1 channel(s) of 16-bit samples take 2 bytes a frame, fmt says 3")
        XCTAssertEqual(refusal("bits0.wav", bytes: header(bits: 0)), "0-bit integer PCM is not supported (1 to 32 bits)")
        XCTAssertEqual(refusal("half.wav", bytes: header(tag: 3)), "16-bit float is not supported (32 or 64 bits)")
        XCTAssertEqual(refusal("short.wav", bytes: header(fmtSize: 14)), "fmt chunk is 14 bytes, needs at least 16")
        XCTAssertEqual(refusal("odd-tag.wav", bytes: header(tag: 0x1234)),
                       "encoding 0x1234 (format 4660) is not supported; convert to PCM, e.g. sox in.wav -e signed -b 16 out.wav")
        XCTAssertEqual(refusal("ext.wav", bytes: header(tag: 0xFFFE)), "WAVE_FORMAT_EXTENSIBLE fmt chunk is 16 bytes, needs 40")
        XCTAssertTrue(refusal("ext-guid.wav", bytes: header(tag: 0xFFFE, fmtSize: 40))
                        .hasPrefix("WAVE_FORMAT_EXTENSIBLE with a sub-format GUID that is not a WAVE format tag"))
        XCTAssertEqual(refusal("frame.wav", bytes: header(data: [7])), "data chunk holds 1 bytes, less than one 2-byte frame")
        let noData = Array(header().prefix(36)), noFormat = Array("RIFF\u{c}\0\0\0WAVEdata\0\0\0\0".utf8)
        XCTAssertEqual(refusal("nodata.wav", bytes: noData), "no data chunk: the file holds no samples")
        XCTAssertEqual(refusal("nofmt.wav", bytes: noFormat), "no fmt chunk: the file does not say how its samples are encoded")
        // A data chunk first, then a fmt chunk cut short by the end of the file.
        let dataFirst = Array("RIFF\u{1c}\0\0\0WAVEdata\u{2}\0\0\0\u{1}\0fmt \u{10}\0\0\0\u{1}\0".utf8)
        XCTAssertEqual(refusal("late-fmt.wav", bytes: dataFirst), "truncated: fmt chunk says 16 bytes, file has 2")
        // NaN in a float file; a 12-bit PCM file in 16-bit containers is read; a data size left
        // unknown (0xFFFFFFFF, written to a pipe) means "to the end of the file".
        let nan = header(tag: 3, blockAlign: 4, bits: 32, data: withUnsafeBytes(of: Float.nan.bitPattern.littleEndian, Array.init))
        XCTAssertEqual(refusal("nan.wav", bytes: nan), "sample 0 of channel 0 is nan, not a finite number")
        XCTAssertEqual(try WAVFile.decode(header(bits: 12), name: "12bit.wav").samples.count, 4)
        var streamed = header()
        streamed.replaceSubrange(40..<44, with: [0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertEqual(try WAVFile.decode(streamed, name: "pipe.wav").samples.count, 4)
    }

    func testWriteGivesTheSameBytesAndClipsAtFullScale() throws {
        let clip = try AudioClip(samples: excerpts().you.map { Float($0) / 32768 }, sampleRate: 8000)
        try WAVFile.write(clip, to: path("copy.wav"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("copy.wav"))),
                       try Data(contentsOf: AudioFixtures.directory.appendingPathComponent("excerpt-s16.wav")))
        XCTAssertEqual(try WAVFile.read(path: path("copy.wav")), clip)
        try WAVFile.write(AudioClip(samples: [1.5, 1, 0.99999, -1, -2, 0.5 / 32768], sampleRate: 16000), to: path("loud.wav"))
        let loud = try WAVFile.read(path: path("loud.wav"))
        XCTAssertEqual(loud.samples.map { Int($0 * 32768) }, [32767, 32767, 32767, -32768, -32768, 1])
        XCTAssertEqual(loud.sampleRate, 16000)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: workDirectory.path).sorted(), ["copy.wav", "loud.wav"])
        XCTAssertThrowsError(try WAVFile.write(AudioClip(samples: [0, .nan], sampleRate: 8000), to: path("nan.wav"))) { error in
            XCTAssertEqual("\(error)", "\(path("nan.wav")): sample 1 is nan, not a finite number")
        }
        XCTAssertThrowsError(try WAVFile.write(AudioClip(samples: [0], sampleRate: 0), to: path("zero.wav")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("nan.wav")))
    }

    /// Truncations, byte flips and extreme chunk sizes of real files: each is read or refused
    /// with `invalidFile`; a trap would end the test run.
    func testDamagedFilesNeverTrap() throws {
        var rng = SplitMix64(seed: 14)
        var read = 0, refused = 0
        for name in ["excerpt-extra-chunks.wav", "excerpt-extensible-s24-stereo.wav", "excerpt-odd-u8.wav", "excerpt-f64.wav", "refused-mp3.wav"] {
            let original = try [UInt8](Data(contentsOf: AudioFixtures.directory.appendingPathComponent(name)))
            for attempt in 0..<400 {
                var bytes = original
                switch attempt % 4 {
                case 0: bytes.removeLast(Int(rng.next() % UInt64(bytes.count)))
                case 1:
                    for _ in 0..<1 + Int(rng.next() % 8) { bytes[Int(rng.next() % 80)] = UInt8(truncatingIfNeeded: rng.next()) }
                case 2:
                    let at = Int(rng.next() % 76)
                    let extremes: [UInt32] = [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFE, UInt32(truncatingIfNeeded: rng.next())]
                    let value = extremes[Int(rng.next() % 6)]
                    bytes.replaceSubrange(at..<at + 4, with: withUnsafeBytes(of: value.littleEndian, Array.init))
                default:
                    bytes[Int(rng.next() % UInt64(bytes.count))] ^= 1 << (rng.next() % 8)
                    bytes.removeLast(Int(rng.next() % 64))
                }
                do {
                    let clip = try WAVFile.decode(bytes, name: name)
                    XCTAssertGreaterThan(clip.sampleRate, 0)
                    XCTAssertFalse(clip.samples.isEmpty)
                    read += 1
                } catch RecurrentError.invalidFile {
                    refused += 1
                }
            }
        }
        XCTAssertGreaterThan(read, 100)
        XCTAssertGreaterThan(refused, 100)
    }
}
