import Foundation

/// A WFDB annotation file in PhysioNet's MIT format (`NAME.atr`, the reference beat labels of
/// MIT-BIH and most ECG databases): each annotation's sample, type and auxiliary text.
public struct WFDBAnnotations: Sendable {
    public struct Annotation: Sendable, Equatable {
        public var sample: Int
        /// The type code (1 normal beat, 5 premature ventricular contraction, 28 rhythm change, ...).
        public var code: Int
        public var auxiliary: String
        /// The one-character mnemonic PhysioNet's tools print ("N", "V", "+"), or the code.
        public var symbol: String { WFDBAnnotations.symbols[code] ?? String(code) }

        public init(sample: Int, code: Int, auxiliary: String = "") {
            self.sample = sample
            self.code = code
            self.auxiliary = auxiliary
        }
    }

    public var annotations: [Annotation]

    public init(annotations: [Annotation]) { self.annotations = annotations }

    /// Mnemonics of the MIT codes (WFDB's ecgcodes.h).
    static let symbols: [Int: String] = [
        1: "N", 2: "L", 3: "R", 4: "a", 5: "V", 6: "F", 7: "J", 8: "A", 9: "S", 10: "E", 11: "j", 12: "/", 13: "Q", 14: "~",
        16: "|", 18: "s", 19: "T", 20: "*", 21: "D", 22: "\"", 23: "=", 24: "p", 25: "B", 26: "^", 27: "t", 28: "+", 29: "u",
        30: "?", 31: "!", 32: "[", 33: "]", 34: "e", 35: "n", 36: "@", 37: "x", 38: "f", 39: "(", 40: ")", 41: "r",
    ]
    /// The codes of beats (WFDB's `isqrs`), and of those the AAMI standard counts as normal (its
    /// class N: normal, bundle branch block, escape beats).
    static let beats: Set<Int> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 25, 30, 34, 35, 38, 41]
    static let normalBeats: Set<Int> = [1, 2, 3, 11, 25, 34]

    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw RecurrentError.io(path: path, reason: "cannot be read") }
        let bytes = [UInt8](data)
        func fail(_ offset: Int, _ reason: String) -> RecurrentError { .invalidFile(path: path, reason: "byte \(offset): \(reason)") }
        var annotations: [Annotation] = []
        var time = 0, offset = 0
        func word(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        while offset + 1 < bytes.count {
            let value = word(offset), code = value >> 10, field = value & 0x3FF
            let at = offset
            offset += 2
            switch code {
            case 0 where field == 0:
                self.annotations = Self.withoutDefinitions(annotations)
                return
            case 59:  // SKIP: a 32-bit interval follows, its high 16 bits first.
                guard offset + 3 < bytes.count else { throw fail(at, "a SKIP without its interval") }
                let interval = Int32(bitPattern: UInt32(word(offset)) << 16 | UInt32(word(offset + 2)))
                time += Int(interval)
                offset += 4
            case 60, 61, 62:  // NUM, SUB, CHN: fields of the annotation before.
                break
            case 63:  // AUX: `field` bytes of text, padded to an even count.
                guard offset + field <= bytes.count else { throw fail(at, "auxiliary text of \(field) bytes runs past the end") }
                if !annotations.isEmpty {
                    annotations[annotations.count - 1].auxiliary = String(decoding: bytes[offset..<(offset + field)], as: UTF8.self)
                        .trimmingCharacters(in: CharacterSet(charactersIn: "\0"))
                }
                offset += field + field % 2
            default:
                time += field
                guard time >= 0 else { throw fail(at, "the annotation's sample is negative") }
                annotations.append(Annotation(sample: time, code: code, auxiliary: ""))
            }
        }
        // Files ended without the final zero word are read to their end, as PhysioNet's tools do.
        self.annotations = Self.withoutDefinitions(annotations)
    }

    /// Without what is not an annotation: code 0 (NOTQRS, a time step only) and the notes at
    /// sample 0 that hold the file's definitions ("## time resolution: 360", custom types), as
    /// PhysioNet's readers leave them out.
    static func withoutDefinitions(_ annotations: [Annotation]) -> [Annotation] {
        annotations.filter { $0.code != 0 && !($0.code == 22 && $0.sample == 0) }
    }

    /// 1 on the samples of every beat outside the AAMI normal class (ventricular, supraventricular,
    /// fusion, paced, unclassifiable), 0 elsewhere, over `sampleCount` samples. A beat covers the
    /// samples from halfway after the beat before it to halfway before the beat after it.
    public func abnormalBeatLabels(sampleCount: Int) -> [Int] {
        var labels = [Int](repeating: 0, count: sampleCount)
        let beats = annotations.filter { Self.beats.contains($0.code) }
        for (k, beat) in beats.enumerated() where !Self.normalBeats.contains(beat.code) {
            let start = k > 0 ? (beats[k - 1].sample + beat.sample + 1) / 2 : beat.sample
            let end = k + 1 < beats.count ? (beat.sample + beats[k + 1].sample - 1) / 2 : beat.sample
            guard start < sampleCount else { continue }
            for t in max(0, start)...min(max(start, end), sampleCount - 1) { labels[t] = 1 }
        }
        return labels
    }
}
