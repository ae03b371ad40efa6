import Foundation
import XCTest
@testable import Recurrent

/// `recurrent chat` as a user runs it: the built binary on real conversations, in a pipe and in
/// a real terminal (tmux).
final class ChatCommandTests: ScratchDirectoryTestCase {
    /// A tiny model trained on three chatterbot files (a few seconds).
    func trainTinyModel() throws -> String {
        let model = path("tiny.model")
        let files = ["greetings.yml", "conversations.yml", "emotion.yml"].map { repositoryFile("Data/dialogue/chatterbot/" + $0) }
        let trained = try runCLI(["chat", "train"] + files + ["--hidden", "16", "--embedding-size", "8", "--max-turn-tokens", "12",
                                                              "--epochs", "2", "--batch-size", "16", "--json", "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stdout.contains("validation perplexity"), trained.stdout)
        return model
    }

    func testTrainEvaluateReplyAndExchanges() throws {
        let model = try trainTinyModel()
        let files = ["greetings.yml", "conversations.yml", "emotion.yml"].map { repositoryFile("Data/dialogue/chatterbot/" + $0) }
        for rerank in ["none", "mmi-antilm", "mmi-bidi"] {
            let evaluated = try runCLI(["chat", "evaluate", model] + files + ["--beam", "3", "--rerank", rerank, "--samples", "2", "--json"])
            XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
            let last = try XCTUnwrap(evaluated.stdout.split(separator: "\n").last)
            let figures = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Double], last.description)
            XCTAssertEqual(Set(figures.keys), ["exchanges", "contexts", "reply_tokens", "perplexity", "bleu", "distinct_1", "distinct_2", "mean_reply_length"])
            XCTAssertGreaterThan(figures["perplexity"] ?? 0, 1)
            for key in ["bleu", "distinct_1", "distinct_2"] { XCTAssertTrue((0...1).contains(figures[key] ?? -1), "\(key): \(last)") }
            XCTAssertEqual(evaluated.stdout.components(separatedBy: "--- ").count - 1, 2, "two sample exchanges")
        }
        let reply = try runCLI(["chat", "reply", model, "Hello", "--context", "Hi", "--candidates"])
        XCTAssertEqual(reply.status, 0, reply.stderr)
        XCTAssertGreaterThan(reply.stdout.split(separator: "\n").count, 1, "the reply, then the candidates")
        let sampled = try runCLI(["chat", "reply", model, "How are you?", "--decoding", "sample", "--decoding-seed", "3"])
        XCTAssertEqual(sampled.stdout, try runCLI(["chat", "reply", model, "How are you?", "--decoding", "sample", "--decoding-seed", "3"]).stdout)
        let long = try runCLI(["chat", "reply", model, Array(repeating: "hello", count: 20).joined(separator: " ")])
        XCTAssertEqual(long.status, 0)
        XCTAssertTrue(long.stderr.contains("longer than the 12 tokens the model reads"), long.stderr)

        let exchanges = try runCLI(["chat", "exchanges", model] + files + ["--part", "test"])
        XCTAssertEqual(exchanges.status, 0, exchanges.stderr)
        let lines = exchanges.stdout.split(separator: "\n")
        XCTAssertTrue(lines.first?.hasPrefix("vocabulary ") ?? false)
        XCTAssertTrue(lines.dropFirst().allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false).count == 2 })
    }

    /// `evaluate --part validation` scores the very exchanges training validated on, so its
    /// perplexity is the one training reported (decoding settings are chosen there, not on the test).
    func testValidationPartIsWhatTrainingValidatedOn() throws {
        let model = path("tiny.model")
        let files = ["greetings.yml", "conversations.yml", "emotion.yml"].map { repositoryFile("Data/dialogue/chatterbot/" + $0) }
        let trained = try runCLI(["chat", "train"] + files + ["--hidden", "16", "--embedding-size", "8", "--max-turn-tokens", "12",
                                                              "--epochs", "2", "--batch-size", "16", "--json", "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let trainingFigures = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((trained.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Double])
        let validation = try runCLI(["chat", "evaluate", model] + files + ["--part", "validation", "--beam", "2", "--json"])
        XCTAssertEqual(validation.status, 0, validation.stderr)
        XCTAssertTrue(validation.stdout.hasPrefix("held-out validation ("), validation.stdout)
        let figures = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((validation.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Double])
        let reported = try XCTUnwrap(trainingFigures["validation_perplexity"])
        XCTAssertEqual(try XCTUnwrap(figures["perplexity"]), reported, accuracy: 1e-3 * reported)
        let test = try runCLI(["chat", "evaluate", model] + files + ["--beam", "2", "--json"])
        XCTAssertNotEqual(test.stdout.split(separator: "\n").last, validation.stdout.split(separator: "\n").last, "the test part is another part")
        let both = try runCLI(["chat", "evaluate", model] + files + ["--part", "validation", "--all"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("--all and --part validation cannot be given together"), both.stderr)
    }

    func testBadInputIsOneLineAndExitOne() throws {
        let model = try trainTinyModel()
        let badShape = try write("- - hi\n  - hello\n", to: "list.yml")
        let emptyConversation = try write("conversations:\n- - hi\n  - hello\n- []\n", to: "empty.yml")
        let cases: [([String], String)] = [
            (["chat", "train", badShape, "-o", path("never.model")], "\(badShape): line 1, column 1: the document is a list"),
            (["chat", "train", emptyConversation, "-o", path("never.model")], "\(emptyConversation): line 4, column 3: conversation 2 is empty"),
            (["chat", "reply", model, "   "], "the message is empty"),
            (["chat", "evaluate", model, repositoryFile("Data/dialogue/plays/macbeth.md")], "groups of this model's test part is in these dialogues"),
        ]
        for (arguments, expected) in cases {
            let result = try runCLI(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").filter { $0.hasPrefix("recurrent: error:") }.count, 1, "the error is one line: \(result.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("never.model")))
        // A model of another task.
        let dense = path("dense.model")
        try Model(Dense(inputSize: 2, outputSize: 2)).save(to: dense)
        for arguments in [["chat", dense], ["chat", "reply", dense, "hi"]] {
            let result = try runCLI(arguments)
            XCTAssertEqual(result.status, 1)
            XCTAssertTrue(result.stderr.contains("not a chat model"), result.stderr)
        }
    }

    func testSessionFromAPipeIgnoresEmptyLinesAndEndsAtEndOfInput() throws {
        let model = try trainTinyModel()
        let result = try runCLI(["chat", model], input: "Hello\n\n   \nHow are you?\n")
        XCTAssertEqual(result.status, 0, result.stderr)
        let text = result.stdout
        XCTAssertEqual(text.split(separator: "\n").filter { $0.hasPrefix("bot: ") }.count, 2, "two replies, the empty lines ignored: \(text)")
    }

    /// In a real terminal: tmux runs the session, keys are sent (with line editing), the screen is read.
    func testSessionInARealTerminal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") else { throw XCTSkip("tmux is not installed (apt-get install tmux)") }
        let model = try trainTinyModel()
        let session = "recurrent-chat-\(UUID().uuidString.prefix(8))"
        let binary = productsDirectory.appendingPathComponent("recurrent").path
        // A server of the test's own (its socket in the scratch directory, no configuration read),
        // so that nothing else on the machine shares it; every call has a deadline.
        let socket = path("tmux.sock")
        var environment = ProcessInfo.processInfo.environment
        environment["TERM"] = "xterm-256color"
        environment["TMUX"] = nil
        func tmux(_ arguments: [String]) throws -> String {
            let result = try runProgram("/usr/bin/tmux", ["-S", socket, "-f", "/dev/null"] + arguments, environment: environment, timeout: 60)
            XCTAssertEqual(result.status, 0, "tmux \(arguments.first ?? ""): \(result.stderr)")
            return result.stdout
        }
        func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", session]) }
        func waitFor(_ condition: (String) -> Bool) throws -> String {
            for _ in 0..<200 {
                let text = try screen()
                if condition(text) { return text }
                usleep(50_000)
            }
            return try screen()
        }
        _ = try tmux(["new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                      "\(binary) chat \(model); echo \"exited $?\"; sleep 30"])
        defer { _ = try? runProgram("/usr/bin/tmux", ["-S", socket, "kill-server"], environment: environment, timeout: 60) }
        XCTAssertTrue(try waitFor { $0.contains("> ") }.contains("Ctrl-D ends"))
        // "helo", left arrow, "l": the line reads "hello".
        _ = try tmux(["send-keys", "-t", session, "-l", "helo"])
        _ = try tmux(["send-keys", "-t", session, "Left"])
        _ = try tmux(["send-keys", "-t", session, "-l", "l"])
        _ = try tmux(["send-keys", "-t", session, "Enter"])
        var text = try waitFor { $0.contains("bot: ") }
        XCTAssertTrue(text.contains("> hello\n"), text)
        XCTAssertEqual(text.components(separatedBy: "bot: ").count - 1, 1, text)
        // An empty line is ignored; up recalls the last line.
        _ = try tmux(["send-keys", "-t", session, "Enter"])
        _ = try tmux(["send-keys", "-t", session, "Up"])
        _ = try tmux(["send-keys", "-t", session, "Enter"])
        text = try waitFor { $0.components(separatedBy: "bot: ").count - 1 == 2 }
        XCTAssertEqual(text.components(separatedBy: "bot: ").count - 1, 2, text)
        XCTAssertEqual(text.components(separatedBy: "> hello").count - 1, 2, "the recalled line: \(text)")
        _ = try tmux(["send-keys", "-t", session, "C-d"])
        text = try waitFor { $0.contains("exited") }
        XCTAssertTrue(text.contains("exited 0"), text)
    }
}
