import Foundation

/// RIFF/WAVE files: read into mono `AudioClip`s, written as 16-bit PCM.
///
/// Read: PCM 8-bit (unsigned), 16, 24 and 32-bit integer, 32 and 64-bit float, plain or as
/// WAVE_FORMAT_EXTENSIBLE with a PCM or float sub-format; any number of channels, mixed down to
/// mono by their mean; chunks other than `fmt ` and `data` (LIST, fact, odd-sized ones with
/// their pad byte) are stepped over. Compressed encodings (mu-law, A-law, ADPCM, GSM, MP3, ...)
/// are refused by name, with the sox command that converts them.
public enum WAVFile {
    /// Reads and decodes the file at `path`.
    public static func read(path: String) throws -> AudioClip {
        try decode([UInt8](FileContents.read(path)), name: path)
    }

    /// Decodes a WAV file's bytes (an upload, say); `name` is the file named in errors.
    /// Throws `RecurrentError.invalidFile` naming the problem; never traps, whatever the bytes.
    public static func decode(_ bytes: [UInt8], name: String) throws -> AudioClip {
        func fail(_ reason: String) -> RecurrentError { .invalidFile(path: name, reason: reason) }
        let layout = try RIFFLayout(bytes, fail: fail)
        let format = try WAVFormat(bytes, chunk: layout.format, fail: fail)
        let data = layout.data
        if data.declaredSize > data.availableSize {
            throw fail("truncated: data chunk says \(data.declaredSize) bytes, file has \(data.availableSize)")
        }
        // A trailing partial frame (a writer's slip, never a whole sample of every channel) is dropped.
        let frames = data.declaredSize / format.blockAlign
        if frames == 0 {
            throw fail(data.declaredSize == 0 ? "data chunk is empty (no samples)"
                       : "data chunk holds \(data.declaredSize) bytes, less than one \(format.blockAlign)-byte frame")
        }
        let samples = try bytes.withUnsafeBufferPointer { buffer in
            try format.decodeMono(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[data.start...]),
                                  frames: frames, fail: fail)
        }
        return AudioClip(samples: samples, sampleRate: format.sampleRate)
    }

    /// Writes `clip` as 16-bit PCM mono, atomically (a temporary file renamed over `path`).
    /// Samples are clipped to [-1, 1] and rounded to the nearest step of 1/32768, so that a
    /// 16-bit file read and written again keeps its bytes.
    public static func write(_ clip: AudioClip, to path: String) throws {
        try AtomicFile.write(Data(encode(clip, name: path)), to: path)
    }

    /// The bytes `write` puts in a file (for a WAV response, say). `name` is used in errors.
    public static func encode(_ clip: AudioClip, name: String = "WAV output") throws -> [UInt8] {
        func fail(_ reason: String) -> RecurrentError { .invalidArgument("\(name): \(reason)") }
        guard clip.sampleRate > 0, clip.sampleRate <= Int(UInt32.max) / 2 else {
            throw fail("sample rate \(clip.sampleRate) Hz cannot be written (1 to \(UInt32.max / 2))")
        }
        let dataSize = clip.samples.count * 2
        guard dataSize <= Int(UInt32.max) - 36 else {
            throw fail("\(clip.samples.count) samples do not fit in a WAV file (4 GB at most)")
        }
        if let bad = clip.samples.firstIndex(where: { !$0.isFinite }) {
            throw fail("sample \(bad) is \(clip.samples[bad]), not a finite number")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(44 + dataSize)
        func append(_ text: String) { bytes += Array(text.utf8) }
        func append32(_ value: Int) { withUnsafeBytes(of: UInt32(value).littleEndian) { bytes += $0 } }
        func append16(_ value: Int) { withUnsafeBytes(of: UInt16(value).littleEndian) { bytes += $0 } }
        append("RIFF"); append32(36 + dataSize); append("WAVE")
        append("fmt "); append32(16)
        append16(1); append16(1); append32(clip.sampleRate); append32(clip.sampleRate * 2); append16(2); append16(16)
        append("data"); append32(dataSize)
        for sample in clip.samples {
            let level = (min(max(sample, -1), 1) * 32768).rounded()
            withUnsafeBytes(of: Int16(min(level, 32767)).littleEndian) { bytes += $0 }
        }
        return bytes
    }
}

/// Where a RIFF/WAVE file's `fmt ` and `data` chunks are.
struct RIFFLayout {
    struct Chunk {
        /// Offset of the chunk's payload.
        var start: Int
        var declaredSize: Int
        /// Bytes from `start` to the end of the file.
        var availableSize: Int
    }
    var format: Chunk
    var data: Chunk

    init(_ bytes: [UInt8], fail: (String) -> RecurrentError) throws {
        guard bytes.count >= 12, Self.tag(bytes, 0) == "RIFF", Self.tag(bytes, 8) == "WAVE" else {
            throw fail(Self.notWAVE(bytes))
        }
        var format: Chunk?, data: Chunk?
        var offset = 12
        // Walk until both are found; past them a file may hold anything, even garbage.
        while offset + 8 <= bytes.count, format == nil || data == nil {
            let id = Self.tag(bytes, offset)
            var size = Int(Self.uint32(bytes, offset + 4))
            let start = offset + 8, available = bytes.count - start
            // 0xFFFFFFFF: a writer that could not seek back (a pipe) left the size unknown.
            if id == "data" && size == 0xFFFF_FFFF { size = available }
            let chunk = Chunk(start: start, declaredSize: size, availableSize: available)
            if id == "fmt " && format == nil { format = chunk }
            if id == "data" && data == nil { data = chunk }
            if id == "fmt " && size > available { throw fail("truncated: fmt chunk says \(size) bytes, file has \(available)") }
            if size > available && data == nil { break }
            offset = start + size + (size & 1)   // payloads of odd size are followed by a pad byte
        }
        guard let format else { throw fail("no fmt chunk: the file does not say how its samples are encoded") }
        guard let data else { throw fail("no data chunk: the file holds no samples") }
        self.format = format
        self.data = data
    }

    static func tag(_ bytes: [UInt8], _ offset: Int) -> String {
        String(decoding: bytes[offset..<offset + 4], as: UTF8.self)
    }

    static func uint32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { value, i in value | UInt32(bytes[offset + i]) << (8 * i) }
    }

    /// Why `bytes` is not a RIFF/WAVE file, naming the formats `AudioContainer` recognizes.
    static func notWAVE(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "empty file, not a RIFF/WAVE file" }
        let head = Array(bytes.prefix(12))
        let magic = String(decoding: head.prefix(4), as: UTF8.self)
        if head.count >= 12, magic == "RIFF" {
            return "a RIFF file of form \(printable(head[8..<12])), not WAVE"
        }
        if let other = AudioContainer.identify(head) { return "not a RIFF/WAVE file: it is \(other)" }
        if head.count < 12, magic == "RIFF" { return "too short for a RIFF/WAVE header (\(bytes.count) bytes)" }
        return "not a RIFF/WAVE file (it starts with \(printable(head.prefix(4))))"
    }

    /// Bytes as quoted ASCII when they are printable, else as hex.
    static func printable<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        if bytes.allSatisfy({ (0x20...0x7E).contains($0) }) { return "\"\(String(decoding: bytes, as: UTF8.self))\"" }
        return "bytes " + bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined(separator: " ")
    }
}

/// Audio files that are not RIFF/WAVE, recognized by their first bytes: FLAC, Ogg, MP3 (with an
/// ID3 tag or an MPEG frame's sync first), AIFF/IFF, Sun .au, RF64/BW64 and big-endian RIFX. One
/// table for both readers: `WAVFile` names them when it refuses one, `AudioFile` hands them to
/// libsndfile.
enum AudioContainer {
    static let known: [(prefix: [UInt8], what: String)] = [
        (Array("RIFX".utf8), "a big-endian RIFX file; only little-endian RIFF/WAVE is supported"),
        (Array("RF64".utf8), "an RF64 file (WAV past 4 GB), which is not supported"),
        (Array("BW64".utf8), "a BW64 file (WAV past 4 GB), which is not supported"),
        (Array("fLaC".utf8), "a FLAC file, not RIFF/WAVE; convert it, e.g. sox in.flac out.wav"),
        (Array("OggS".utf8), "an Ogg file, not RIFF/WAVE; convert it, e.g. sox in.ogg out.wav"),
        (Array("ID3".utf8), "an MP3 file, not RIFF/WAVE; convert it, e.g. ffmpeg -i in.mp3 out.wav"),
        (Array("FORM".utf8), "an AIFF/IFF file, not RIFF/WAVE; convert it, e.g. sox in.aiff out.wav"),
        (Array(".snd".utf8), "a Sun/NeXT .au file, not RIFF/WAVE; convert it, e.g. sox in.au out.wav"),
    ]

    /// What the first bytes say the file is, with the command that converts it; nil for none
    /// of these (RIFF/WAVE among them).
    static func identify<Bytes: Collection<UInt8>>(_ head: Bytes) -> String? {
        if let match = known.first(where: { head.starts(with: $0.prefix) }) { return match.what }
        let first = Array(head.prefix(2))
        if first.count == 2, first[0] == 0xFF, first[1] & 0xE0 == 0xE0 {  // an MPEG audio frame's sync, without a tag
            return "an MP3 file, not RIFF/WAVE; convert it, e.g. ffmpeg -i in.mp3 out.wav"
        }
        return nil
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
