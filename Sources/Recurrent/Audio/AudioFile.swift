import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Audio files of any kind the speech task meets, into mono `AudioClip`s.
///
/// RIFF/WAVE in integer or float PCM is read by `WAVFile`, always. FLAC, Ogg Vorbis and Opus, MP3,
/// AIFF, Sun .au, RF64 and WAV in compressed encodings (mu-law, A-law, ADPCM, GSM) are read through
/// libsndfile (Debian's `libsndfile1`) where it is installed: it is opened at run time, so that
/// building and everything else work without it, and a file it would read is otherwise refused
/// with the package to install or the command that converts it. Channels are mixed down to mono by
/// their mean; integer samples are scaled to [-1, 1] as `WAVFile` scales them (1/32768 for 16 bits).
public enum AudioFile {
    /// Reads and decodes the file at `path`. A format libsndfile reads is handed to it by path,
    /// recognized from the first bytes, without reading the file here as well.
    public static func read(path: String) throws -> AudioClip {
        if let library = SoundFileLibrary.shared, let head = firstBytes(of: path, count: 12), AudioContainer.identify(head) != nil {
            return try library.read(path: path, name: path)
        }
        return try decode([UInt8](try FileContents.read(path)), name: path, path: path)
    }

    /// Decodes an audio file's bytes (an upload, say); `name` is the file named in errors.
    public static func decode(_ bytes: [UInt8], name: String) throws -> AudioClip {
        try decode(bytes, name: name, path: nil)
    }

    /// Whether libsndfile is there to read the formats beyond PCM WAV.
    public static var readsCompressedFormats: Bool { SoundFileLibrary.shared != nil }

    static func decode(_ bytes: [UInt8], name: String, path: String?) throws -> AudioClip {
        let isWAVE = bytes.count >= 12 && bytes.starts(with: Array("RIFF".utf8)) && Array(bytes[8..<12]) == Array("WAVE".utf8)
        if isWAVE {
            // A compressed encoding inside the WAV goes to libsndfile, which reads most of them;
            // PCM, and any damage, stay with WAVFile.
            if WAVFormat.isCompressed(bytes), let library = SoundFileLibrary.shared { return try library.decode(bytes, name: name, path: path) }
            return try WAVFile.decode(bytes, name: name)
        }
        guard let other = AudioContainer.identify(bytes.prefix(12)) else { return try WAVFile.decode(bytes, name: name) }
        guard let library = SoundFileLibrary.shared else {
            throw RecurrentError.invalidFile(path: name, reason: "not a RIFF/WAVE file: it is \(other) (or install libsndfile, "
                + "Debian's libsndfile1, which reads it directly)")
        }
        return try library.decode(bytes, name: name, path: path)
    }

    /// The first `count` bytes of a file (fewer if it is shorter); nil when it cannot be opened,
    /// which the full read then reports.
    static func firstBytes(of path: String, count: Int) -> [UInt8]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: count)).map { [UInt8]($0) }
    }
}

/// libsndfile's C interface, looked up with dlopen: nil when the library is not installed.
final class SoundFileLibrary: @unchecked Sendable {
    typealias Open = @convention(c) (UnsafePointer<CChar>?, Int32, UnsafeMutableRawPointer?) -> OpaquePointer?
    typealias ReadFloat = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Float>?, Int64) -> Int64
    typealias Close = @convention(c) (OpaquePointer?) -> Int32
    typealias ErrorText = @convention(c) (OpaquePointer?) -> UnsafePointer<CChar>?

    /// sndfile.h's SF_INFO: frames, sample rate, channels, format, sections, seekable.
    struct Info {
        var frames: Int64 = 0
        var sampleRate: Int32 = 0, channels: Int32 = 0, format: Int32 = 0, sections: Int32 = 0, seekable: Int32 = 0
    }

    static let shared: SoundFileLibrary? = SoundFileLibrary()
    static let readMode: Int32 = 0x10  // SFM_READ

    let open: Open, readFloat: ReadFloat, close: Close, errorText: ErrorText
    /// One file at a time: sf_strerror(NULL) reports the last failed open of the process.
    let lock = NSLock()

    private init?() {
        guard let handle = dlopen("libsndfile.so.1", RTLD_NOW | RTLD_LOCAL) ?? dlopen("libsndfile.dylib", RTLD_NOW | RTLD_LOCAL) else {
            return nil
        }
        func symbol<Function>(_ name: String, _ type: Function.Type) -> Function? {
            dlsym(handle, name).map { unsafeBitCast($0, to: type) }
        }
        guard let open = symbol("sf_open", Open.self), let readFloat = symbol("sf_readf_float", ReadFloat.self),
              let close = symbol("sf_close", Close.self), let errorText = symbol("sf_strerror", ErrorText.self) else { return nil }
        (self.open, self.readFloat, self.close, self.errorText) = (open, readFloat, close, errorText)
    }

    /// Decodes the file at `path`, or `bytes` through a temporary file when there is no path.
    func decode(_ bytes: [UInt8], name: String, path: String?) throws -> AudioClip {
        if let path { return try read(path: path, name: name) }
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-audio-\(UUID().uuidString)").path
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
            throw RecurrentError.io(path: temporary, reason: "cannot write a temporary copy of \(name) to decode")
        }
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        return try read(path: temporary, name: name)
    }

    func read(path: String, name: String) throws -> AudioClip {
        func fail(_ reason: String) -> RecurrentError { .invalidFile(path: name, reason: reason) }
        var info = Info()
        let (opened, openError): (OpaquePointer?, String) = lock.withLock {
            let file = withUnsafeMutablePointer(to: &info) { open(path, Self.readMode, UnsafeMutableRawPointer($0)) }
            return (file, file == nil ? errorText(nil).map { String(cString: $0) } ?? "unknown error" : "")
        }
        guard let file = opened else { throw fail("libsndfile cannot read it: \(openError)") }
        defer { _ = close(file) }
        guard info.channels > 0, info.sampleRate > 0 else {
            throw fail("libsndfile reads \(info.channels) channel(s) at \(info.sampleRate) Hz")
        }
        let channels = Int(info.channels), framesPerRead = 4096
        var buffer = [Float](repeating: 0, count: framesPerRead * channels)
        var samples: [Float] = []
        // The header's count, trusted only as far as a few minutes (a damaged one may claim anything).
        if info.frames > 0 { samples.reserveCapacity(Int(min(info.frames, 1 << 23))) }
        while true {
            let read = buffer.withUnsafeMutableBufferPointer { readFloat(file, $0.baseAddress, Int64(framesPerRead)) }
            guard read > 0 else { break }
            for frame in 0..<Int(read) {
                var sum: Float = 0
                for channel in 0..<channels { sum += buffer[frame * channels + channel] }
                samples.append(channels == 1 ? sum : sum / Float(channels))
            }
        }
        guard !samples.isEmpty else { throw fail("holds no samples (libsndfile read none)") }
        if let bad = samples.firstIndex(where: { !$0.isFinite }) { throw fail("sample \(bad) is \(samples[bad]), not a finite number") }
        return AudioClip(samples: samples, sampleRate: Int(info.sampleRate))
    }
}
