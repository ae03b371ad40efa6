import Foundation
import XCTest
@testable import Recurrent

/// The dialogue readers on the bundled real corpora and on small hand-written files.
final class DialogueTests: ScratchDirectoryTestCase {
    func testIambicReaderKeepsSpeakersDropsDirectionsAndEndsScenesAtHeadings() throws {
        let play = try write("""
            # The Test Play

            ## ACT I

            ### SCENE I. A room.

            _Enter ALICE and BOB,
            meeting_

            **ALICE**

            Who's there?
            _\\[Aside]_ Nay, answer me.

            **BOB**

            Long live the king!

            _Exit_

            ### SCENE II. Another room.

            **CAROL**

            Alone I speak.

            **ALICE**

            And I reply.
            """, to: "test-play.md")
        let dialogue = try Dialogue(paths: [play])
        XCTAssertEqual(dialogue.conversations.count, 2, "one conversation per scene")
        let first = dialogue.conversations[0]
        XCTAssertEqual(first.turns.map(\.speaker), ["ALICE", "BOB"])
        XCTAssertEqual(first.turns.map(\.text), ["Who's there? Nay, answer me.", "Long live the king!"])
        XCTAssertEqual(first.turns[0].line, 10, "the line of the speaker's name")
        XCTAssertEqual(first.name, "test-play.md, ACT I, SCENE I")
        XCTAssertEqual(Set(dialogue.conversations.map(\.group)), ["The Test Play"], "a play is one group")
        let exchanges = dialogue.exchanges(contextTurns: 2)
        XCTAssertEqual(exchanges.map(\.reply), ["Long live the king!", "And I reply."], "no reply crosses a scene")
        XCTAssertEqual(exchanges[1].context, ["Alone I speak."])
    }

    func testBundledCorporaReadWithTheirRealShapes() throws {
        let hamlet = try Dialogue(paths: [repositoryFile("Data/dialogue/plays/hamlet.md")])
        let opening = try XCTUnwrap(hamlet.conversations.first?.turns.prefix(3))
        XCTAssertEqual(opening.map(\.speaker), ["BERNARDO", "FRANCISCO", "BERNARDO"])
        XCTAssertEqual(opening.map(\.text), ["Who's there?", "Nay, answer me: stand, and unfold yourself.", "Long live the king!"])
        XCTAssertEqual(hamlet.groups.count, 1)
        XCTAssertGreaterThan(hamlet.turnCount, 1000)

        let plays = try Dialogue(paths: [repositoryFile("Data/dialogue/plays")])
        XCTAssertEqual(plays.groups.count, 12, "one group per play")
        let chatterbot = try Dialogue(paths: [repositoryFile("Data/dialogue/chatterbot")])
        XCTAssertEqual(chatterbot.conversations.count, 2026)
        XCTAssertEqual(chatterbot.turnCount, 4333)
        let greetings = try Dialogue(paths: [repositoryFile("Data/dialogue/chatterbot/greetings.yml")])
        XCTAssertEqual(greetings.conversations[0].turns.map(\.text), ["Hello", "Hi"])
        XCTAssertEqual(greetings.conversations[0].turns.map(\.line), [4, 5])
    }

    func testLinesFormatAndSplitsNeverCutAConversation() throws {
        let file = try write("hello\nhi there\nhow are you\n\n\nbye\nsee you\n\nalone\n", to: "talk.txt")
        let dialogue = try Dialogue(paths: [file])
        XCTAssertEqual(dialogue.conversations.map { $0.turns.map(\.text) }, [["hello", "hi there", "how are you"], ["bye", "see you"], ["alone"]])
        let exchanges = dialogue.exchanges(contextTurns: 1)
        XCTAssertEqual(exchanges.map(\.context), [["hello"], ["hi there"], ["bye"]])
        XCTAssertEqual(exchanges.map(\.line), [2, 3, 7])

        let many = Dialogue(conversations: (0..<40).map { index in
            Conversation(turns: [DialogueTurn(text: "a\(index)", line: 1), DialogueTurn(text: "b\(index)", line: 2)],
                         group: "g\(index / 2)", name: "c\(index)", path: "x")
        })
        let parts = try many.split(testFraction: 0.1, validationFraction: 0.1, seed: 3)
        let groups = [parts.training, parts.validation, parts.test].map { Set($0.groups) }
        XCTAssertEqual(groups.map(\.count), [16, 2, 2])
        XCTAssertTrue(groups[0].isDisjoint(with: groups[1]) && groups[0].isDisjoint(with: groups[2]) && groups[1].isDisjoint(with: groups[2]))
        XCTAssertEqual(parts.training.conversations.count + parts.validation.conversations.count + parts.test.conversations.count, 40)
        let again = try many.split(testFraction: 0.1, validationFraction: 0.1, seed: 3)
        XCTAssertEqual(again.test.groups, parts.test.groups, "the split is seeded")
    }

    func testChatDatasetsInJSONLinesAndJSON() throws {
        // The chat fine-tuning shape and ShareGPT's, one conversation a line; system turns out.
        let jsonl = try write("""
            {"messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "hello"}, {"role": "assistant", "content": " hi there "}]}

            {"conversations": [{"from": "human", "value": "how are you"}, {"from": "gpt", "value": "fine"}], "id": "x7"}
            ["bye", "see you"]
            """, to: "chat.jsonl")
        let dialogue = try Dialogue(paths: [jsonl])
        XCTAssertEqual(dialogue.conversations.map { $0.turns.map(\.text) }, [["hello", "hi there"], ["how are you", "fine"], ["bye", "see you"]])
        XCTAssertEqual(dialogue.conversations[0].turns.map(\.speaker), ["user", "assistant"])
        XCTAssertEqual(dialogue.conversations.map { $0.turns[0].line }, [1, 3, 4])
        XCTAssertEqual(dialogue.conversations[1].name, "chat.jsonl, line 3")
        // A JSON file holding the list.
        let list = try write(#"[{"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}]}, ["a", "b"]]"#,
                             to: "chat.json")
        XCTAssertEqual(try Dialogue(paths: [list]).conversations.map { $0.turns.map(\.text) }, [["hello", "hi"], ["a", "b"]])
        // Bad records name the line.
        func error(_ text: String) -> String {
            do { _ = try Dialogue(paths: [try write(text, to: "bad.jsonl")]); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(error("{\"messages\": []}\n{\"messages\": [\n").contains("bad.jsonl: line 2: not JSON"), error("{\"messages\": []}\n{\"messages\": [\n"))
        XCTAssertTrue(error("{\"text\": \"hello\"}\n").hasSuffix("bad.jsonl: line 1: line 1 has no \"messages\" (role, content) or \"conversations\" (from, value) list"),
                      error("{\"text\": \"hello\"}\n"))
        XCTAssertTrue(error("{\"messages\": [{\"role\": \"user\"}]}\n").hasSuffix(
            "line 1: line 1, turn 1: no text (\"content\" a string or a list of {\"type\": \"text\", \"text\"} parts)"),
                      error("{\"messages\": [{\"role\": \"user\"}]}\n"))
        XCTAssertTrue(error("{\"messages\": [{\"role\": \"user\", \"content\": [7]}]}\n").contains("line 1, turn 1: no text"))
        // Content as chat APIs write it: a list of parts (texts joined, images left out); tool
        // traffic, developer instructions and an assistant's tool call (content null) left out.
        let parts = try write("""
            {"messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "look at this"}, {"type": "image_url", "image_url": {"url": "x.png"}}, {"type": "text", "text": "what is it?"}]}, {"role": "assistant", "content": null, "tool_calls": []}, {"role": "tool", "content": "42"}, {"role": "assistant", "content": [{"type": "text", "text": "a cat"}]}]}
            """, to: "parts.jsonl")
        XCTAssertEqual(try Dialogue(paths: [parts]).conversations.map { $0.turns.map(\.text) }, [["look at this\nwhat is it?", "a cat"]])
    }

    func testYAMLNotInTheCorpusShapeNamesFileLineAndColumn() throws {
        let original = try write("""
            categories:
            - trivia
            conversations:
            - - What is the rarest M&M color?
              - Brown
            - In a game of bingo, which number is represented by the phrase "two little ducks"?
              - '22'
            """, to: "trivia.yml")
        let cases: [(String, String)] = [
            (original, "line 6, column 3: conversation 2 is a single value; expected a list of turns"),
            (try write("- - hi\n  - hello\n", to: "list.yml"), "the document is a list; expected the chatterbot-corpus shape"),
            (try write("categories: [a]\ntalks:\n- - hi\n", to: "key.yml"), "no \"conversations\" key"),
            (try write("conversations:\n- - hi\n  - hello\n- []\n", to: "empty.yml"), "line 4, column 3: conversation 2 is empty"),
            (try write("conversations:\n- - hi\n  - {a: 1}\n", to: "mapping.yml"), "line 3, column 5: turn 2 of conversation 1 is a mapping; expected text"),
            (try write("conversations:\n- - hi\n  - \n", to: "blank.yml"), "turn 2 of conversation 1 is empty"),
            (try write("conversations: [\n- - hi\n", to: "broken.yml"), "not valid YAML"),
            (try write("", to: "nothing.yml"), "the document is empty"),
        ]
        for (file, expected) in cases {
            XCTAssertThrowsError(try Dialogue(paths: [file]), file) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(file) && message.contains(expected), "\(file): \(message)")
                XCTAssertFalse(message.contains("\n"), "one line: \(message)")
            }
        }
        let emptyLines = try write("\n\n   \n", to: "empty.txt")
        XCTAssertThrowsError(try Dialogue(paths: [emptyLines])) { XCTAssertTrue("\($0)".contains("no turns to read"), "\($0)") }
        XCTAssertThrowsError(try Dialogue(paths: [path("missing.yml")])) { XCTAssertTrue("\($0)".contains("no such file"), "\($0)") }
    }
}
