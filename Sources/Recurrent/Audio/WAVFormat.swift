/// A WAV file's `fmt ` chunk: how its samples are encoded, checked for what the reader takes.
struct WAVFormat {
    enum Encoding: Equatable {
        /// Little-endian integers of `bytes` bytes; 8-bit is unsigned (offset 128).
        case integer(bytes: Int)
        /// IEEE floats of 4 or 8 bytes.
        case float(bytes: Int)
    }
    var encoding: Encoding
    var channels: Int
    var sampleRate: Int
    var blockAlign: Int

    static let pcm = 0x0001, ieeeFloat = 0x0003, extensible = 0xFFFE
    /// The last 14 bytes of the KSDATAFORMAT_SUBTYPE GUIDs; the first two are the format tag.
    static let subformatGUIDTail: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]

    init(_ bytes: [UInt8], chunk: RIFFLayout.Chunk, fail: (String) -> RecurrentError) throws {
        guard chunk.declaredSize >= 16 else { throw fail("fmt chunk is \(chunk.declaredSize) bytes, needs at least 16") }
        func uint16(_ at: Int) -> Int { Int(bytes[chunk.start + at]) | Int(bytes[chunk.start + at + 1]) << 8 }
        let tag = uint16(0)
        channels = uint16(2)
        sampleRate = Int(RIFFLayout.uint32(bytes, chunk.start + 4))
        blockAlign = uint16(12)
        let bits = uint16(14)
        var code = tag
        if tag == Self.extensible {
            // cbSize 22: valid bits, channel mask, then the sub-format GUID whose first two bytes are the tag.
            guard chunk.declaredSize >= 40 else {
                throw fail("WAVE_FORMAT_EXTENSIBLE fmt chunk is \(chunk.declaredSize) bytes, needs 40")
            }
            code = uint16(24)
            guard Array(bytes[chunk.start + 26..<chunk.start + 40]) == Self.subformatGUIDTail else {
                throw fail("WAVE_FORMAT_EXTENSIBLE with a sub-format GUID that is not a WAVE format tag; convert to PCM, \(Self.conversionHint)")
            }
        }
        guard code == Self.pcm || code == Self.ieeeFloat else {
            throw fail("encoding \(Self.name(ofFormat: code)) (format \(code)) is not supported; convert to PCM, \(Self.conversionHint)")
        }
        guard channels > 0 else { throw fail("fmt chunk says zero channels") }
        guard sampleRate > 0 else { throw fail("fmt chunk says a sample rate of 0 Hz") }
        let containerBytes = (bits + 7) / 8
        if code == Self.pcm {
            guard (1...32).contains(bits) else { throw fail("\(bits)-bit integer PCM is not supported (1 to 32 bits)") }
            encoding = .integer(bytes: containerBytes)
        } else {
            guard bits == 32 || bits == 64 else { throw fail("\(bits)-bit float is not supported (32 or 64 bits)") }
            encoding = .float(bytes: containerBytes)
        }
        guard blockAlign == channels * containerBytes else {
            throw fail("bits do not fit the block align: \(channels) channel(s) of \(bits)-bit samples take \(channels * containerBytes) bytes a frame, fmt says \(blockAlign)")
        }
    }

    static let conversionHint = "e.g. sox in.wav -e signed -b 16 out.wav"

    /// Whether a RIFF/WAVE file's samples are in an encoding other than integer or float PCM
    /// (mu-law, A-law, ADPCM, GSM, MP3, or an extensible sub-format that is not PCM): false for
    /// PCM and for a file too damaged to say, which `WAVFile` then refuses by its damage.
    static func isCompressed(_ bytes: [UInt8]) -> Bool {
        guard let layout = try? RIFFLayout(bytes, fail: { .invalidFile(path: "", reason: $0) }),
              layout.format.declaredSize >= 16, layout.format.availableSize >= 16 else { return false }
        let start = layout.format.start
        func uint16(_ at: Int) -> Int { Int(bytes[start + at]) | Int(bytes[start + at + 1]) << 8 }
        var code = uint16(0)
        if code == extensible {
            guard layout.format.declaredSize >= 40, layout.format.availableSize >= 40 else { return false }
            guard Array(bytes[start + 26..<start + 40]) == subformatGUIDTail else { return true }
            code = uint16(24)
        }
        return code != pcm && code != ieeeFloat
    }

    /// Names of the WAVE format tags a user is likely to meet (from mmreg.h).
    static func name(ofFormat code: Int) -> String {
        switch code {
        case 0x0000: return "unknown (tag 0)"
        case 0x0002: return "Microsoft ADPCM"
        case 0x0006: return "A-law"
        case 0x0007: return "mu-law"
        case 0x0010: return "OKI ADPCM"
        case 0x0011: return "IMA ADPCM"
        case 0x0014: return "G.723 ADPCM"
        case 0x0022: return "DSP Group TrueSpeech"
        case 0x0031: return "GSM 6.10"
        case 0x0040: return "G.721 ADPCM"
        case 0x0042: return "G.723.1"
        case 0x0045: return "G.726 ADPCM"
        case 0x0050: return "MPEG audio"
        case 0x0055: return "MPEG layer 3 (MP3)"
        case 0x0064: return "G.726 ADPCM"
        case 0x0065: return "G.722 ADPCM"
        case 0x0092: return "Dolby AC-3 (S/PDIF)"
        case 0x00FF, 0x1600, 0x1610: return "AAC"
        case 0x0160, 0x0161, 0x0162, 0x0163: return "Windows Media Audio"
        case 0x2000: return "Dolby AC-3"
        case 0x2001: return "DTS"
        case 0x674F, 0x6750, 0x6751, 0x676F, 0x6770, 0x6771: return "Ogg Vorbis"
        case 0xF1AC: return "FLAC"
        default: return "0x" + String(code, radix: 16, uppercase: true)
        }
    }

    /// The mean over channels of `frames` frames from `data`, scaled to [-1, 1] for integers.
    func decodeMono(_ data: UnsafeRawBufferPointer, frames: Int, fail: (String) -> RecurrentError) throws -> [Float] {
        var samples = [Float](repeating: 0, count: frames)
        let channelCount = Float(channels)
        switch encoding {
        case .integer(let bytes):
            // Samples sit in the top bits of their container: full scale is the container's.
            let fullScale: Float = 1 / Float(1 << (8 * bytes - 1))
            for frame in 0..<frames {
                var sum: Float = 0
                for channel in 0..<channels {
                    let at = frame * blockAlign + channel * bytes
                    sum += Float(Self.integer(data, at: at, bytes: bytes)) * fullScale
                }
                samples[frame] = channels == 1 ? sum : sum / channelCount
            }
        case .float(let bytes):
            for frame in 0..<frames {
                var sum: Float = 0
                for channel in 0..<channels {
                    let at = frame * blockAlign + channel * bytes
                    let value = bytes == 4 ? Float(bitPattern: data.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian)
                        : Float(Double(bitPattern: data.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian))
                    guard value.isFinite else {
                        throw fail("sample \(frame) of channel \(channel) is \(value), not a finite number")
                    }
                    sum += value
                }
                samples[frame] = channels == 1 ? sum : sum / channelCount
            }
        }
        return samples
    }

    /// A signed integer of 1 to 4 little-endian bytes; 1-byte samples are unsigned around 128.
    @inline(__always)
    static func integer(_ data: UnsafeRawBufferPointer, at offset: Int, bytes: Int) -> Int32 {
        switch bytes {
        case 1: return Int32(data[offset]) - 128
        case 2: return Int32(Int16(bitPattern: data.loadUnaligned(fromByteOffset: offset, as: UInt16.self).littleEndian))
        case 3:
            let raw = Int32(data[offset]) | Int32(data[offset + 1]) << 8 | Int32(data[offset + 2]) << 16
            return (raw << 8) >> 8   // sign-extend bit 23
        default: return Int32(bitPattern: data.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
        }
    }
}
