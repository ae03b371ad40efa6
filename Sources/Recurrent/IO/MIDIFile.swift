import Foundation

/// A Standard MIDI File (SMF 1.0), written by the project: type 1, a first track holding the
/// tempo, time and key signature, then one track per part with its notes. Times are in ticks,
/// `ticksPerQuarter` to a quarter note.
public struct MIDIFile: Sendable {
    public enum Event: Sendable, Equatable {
        case noteOn(channel: Int, key: Int, velocity: Int)
        case noteOff(channel: Int, key: Int)
        case programChange(channel: Int, program: Int)
        /// Microseconds per quarter note.
        case tempo(microsecondsPerQuarter: Int)
        /// `numerator`/`denominator` (a power of two).
        case timeSignature(numerator: Int, denominator: Int)
        /// Sharps (positive) or flats, and whether the key is minor.
        case keySignature(fifths: Int, minor: Bool)
        case trackName(String)
    }

    public struct Track: Sendable {
        public var events: [(tick: Int, event: Event)]
        public init(events: [(tick: Int, event: Event)] = []) { self.events = events }
    }

    public var ticksPerQuarter: Int
    public var tracks: [Track]

    public init(ticksPerQuarter: Int = 480, tracks: [Track] = []) {
        self.ticksPerQuarter = ticksPerQuarter
        self.tracks = tracks
    }

    /// A file of one conductor track and one track per part: each part's notes (pitch, start and
    /// length in whole notes) on its own channel, at `quarterNotesPerMinute`.
    public init(parts: [(name: String, program: Int, notes: [PerformedNote])], quarterNotesPerMinute: Double = 120,
                meter: (numerator: Int, denominator: Int)? = nil, keyFifths: Int? = nil, minor: Bool = false, ticksPerQuarter: Int = 480) {
        var conductor = Track(events: [(0, .tempo(microsecondsPerQuarter: Int((60_000_000 / max(quarterNotesPerMinute, 1)).rounded())))])
        if let meter, meter.denominator > 0, meter.denominator & (meter.denominator - 1) == 0 {
            conductor.events.append((0, .timeSignature(numerator: meter.numerator, denominator: meter.denominator)))
        }
        if let keyFifths { conductor.events.append((0, .keySignature(fifths: max(-7, min(7, keyFifths)), minor: minor))) }
        var tracks = [conductor]
        for (index, part) in parts.enumerated() {
            let channel = index >= 9 ? index + 1 : index  // channel 10 (index 9) is percussion
            var track = Track(events: [(0, .trackName(part.name)), (0, .programChange(channel: channel % 16, program: part.program))])
            let ticksPerWhole = Fraction(4 * ticksPerQuarter)
            for note in part.notes {
                let start = Self.ticks(note.start * ticksPerWhole), end = Self.ticks((note.start + note.length) * ticksPerWhole)
                track.events.append((start, .noteOn(channel: channel % 16, key: note.pitch, velocity: 80)))
                track.events.append((max(end, start + 1), .noteOff(channel: channel % 16, key: note.pitch)))
            }
            tracks.append(track)
        }
        self.init(ticksPerQuarter: ticksPerQuarter, tracks: tracks)
    }

    static func ticks(_ value: Fraction) -> Int { Int((value.doubleValue).rounded()) }

    /// The file's bytes: the header chunk `MThd` (type 1, the track count, the division) and an
    /// `MTrk` chunk per track, events in time order (note-offs before note-ons at the same tick,
    /// so that a repeated note sounds twice), each track closed by End of Track.
    public func data() -> Data {
        var bytes: [UInt8] = Array("MThd".utf8) + Self.bigEndian(6, 4) + Self.bigEndian(1, 2)
            + Self.bigEndian(tracks.count, 2) + Self.bigEndian(min(ticksPerQuarter, 0x7FFF), 2)
        for track in tracks {
            var body: [UInt8] = []
            var now = 0
            let ordered = track.events.enumerated().sorted {
                ($0.element.tick, Self.order($0.element.event), $0.offset) < ($1.element.tick, Self.order($1.element.event), $1.offset)
            }
            for (_, (tick, event)) in ordered {
                body += Self.variableLength(max(0, tick - now))
                now = max(now, tick)
                body += Self.encode(event)
            }
            body += [0x00, 0xFF, 0x2F, 0x00]
            bytes += Array("MTrk".utf8) + Self.bigEndian(body.count, 4) + body
        }
        return Data(bytes)
    }

    /// Writes the file atomically: a path that cannot be written leaves nothing behind.
    public func write(to path: String) throws {
        try AtomicFile.write(data(), to: path)
    }

    static func order(_ event: Event) -> Int {
        switch event {
        case .trackName, .tempo, .timeSignature, .keySignature, .programChange: return 0
        case .noteOff: return 1
        case .noteOn: return 2
        }
    }

    static func encode(_ event: Event) -> [UInt8] {
        func byte(_ value: Int) -> UInt8 { UInt8(clamping: max(0, min(127, value))) }
        switch event {
        case .noteOn(let channel, let key, let velocity): return [0x90 | UInt8(channel & 15), byte(key), byte(velocity)]
        case .noteOff(let channel, let key): return [0x80 | UInt8(channel & 15), byte(key), 64]
        case .programChange(let channel, let program): return [0xC0 | UInt8(channel & 15), byte(program)]
        case .tempo(let microseconds):
            return [0xFF, 0x51, 0x03] + bigEndian(max(1, min(microseconds, 0xFFFFFF)), 3)
        case .timeSignature(let numerator, let denominator):
            let power = UInt8(max(0, min(7, denominator.trailingZeroBitCount)))
            return [0xFF, 0x58, 0x04, UInt8(clamping: max(1, min(numerator, 255))), power, 24, 8]
        case .keySignature(let fifths, let minor):
            return [0xFF, 0x59, 0x02, UInt8(bitPattern: Int8(max(-7, min(7, fifths)))), minor ? 1 : 0]
        case .trackName(let name):
            let text = Array(name.utf8.prefix(127))
            return [0xFF, 0x03] + variableLength(text.count) + text
        }
    }

    /// Seven bits a byte, most significant first, the high bit set on all but the last.
    static func variableLength(_ value: Int) -> [UInt8] {
        var value = max(0, min(value, 0x0FFF_FFFF))
        var bytes = [UInt8(value & 0x7F)]
        value >>= 7
        while value > 0 {
            bytes.insert(UInt8(value & 0x7F) | 0x80, at: 0)
            value >>= 7
        }
        return bytes
    }

    static func bigEndian(_ value: Int, _ count: Int) -> [UInt8] {
        (0..<count).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
