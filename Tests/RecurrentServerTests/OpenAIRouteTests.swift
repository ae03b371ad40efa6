import Foundation
import XCTest
@testable import Recurrent

/// OpenAI's routes give what the command line and the library give for the same model file:
/// a chat model's reply as `recurrent chat reply` prints it, a language model's continuation as
/// `LanguageModel.generate` writes it, whole and streamed; refusals in OpenAI's error shape.
final class OpenAIRouteTests: XCTestCase {
    var server: ServerProcess!

    override func setUpWithError() throws {
        try TestModels.make()
        server = try ServerProcess([TestModels.chat, TestModels.bard, TestModels.airline])
    }

    override func tearDownWithError() throws { XCTAssertEqual(server.stop(), 0) }

    /// The events of a streamed answer: each `data:` line's JSON, and whether `[DONE]` ended them.
    func events(_ reply: HTTPReply) throws -> (chunks: [[String: Any]], done: Bool) {
        XCTAssertEqual(reply.header("Content-Type"), "text/event-stream", reply.text)
        let events = reply.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        XCTAssertTrue(events.allSatisfy { $0.hasPrefix("data: ") }, reply.text)
        let datas = events.map { String($0.dropFirst(6)) }
        let chunks = try datas.filter { $0 != "[DONE]" }.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], $0)
        }
        return (chunks, datas.last == "[DONE]" && datas.filter { $0 == "[DONE]" }.count == 1)
    }

    func testChatCompletionsGiveTheCommandLinesReply() throws {
        // What `recurrent chat reply` prints, its candidates after it.
        let cli = try runRecurrent(["chat", "reply", TestModels.chat, "how are you?", "--context", "hello", "--context", "hi", "--candidates"])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        let lines = cli.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let expected = lines[0]
        XCTAssertFalse(expected.isEmpty, "the test model replies with words")
        let candidates = lines.dropFirst().filter { !$0.isEmpty }.map { String($0.dropFirst(11)) }
        XCTAssertGreaterThanOrEqual(candidates.count, 3, cli.stdout)

        let messages: [[String: Any]] = [["role": "system", "content": "You are kind."], ["role": "user", "content": "hello"],
                                         ["role": "assistant", "content": [["type": "text", "text": "hi"]]],
                                         ["role": "user", "content": "how are you?"]]
        let reply = try server.post("/v1/chat/completions", json: ["model": "chat", "messages": messages])
        XCTAssertEqual(reply.status, 200, reply.text)
        let whole = try reply.json()
        XCTAssertEqual(whole["object"] as? String, "chat.completion")
        XCTAssertEqual(whole["model"] as? String, "chat")
        XCTAssertTrue((whole["id"] as? String)?.hasPrefix("chatcmpl-") ?? false)
        let choices = try XCTUnwrap(whole["choices"] as? [[String: Any]])
        XCTAssertEqual(choices.count, 1)
        let message = try XCTUnwrap(choices[0]["message"] as? [String: Any])
        XCTAssertEqual(message["role"] as? String, "assistant")
        XCTAssertEqual(message["content"] as? String, expected)
        XCTAssertTrue(["stop", "length"].contains(choices[0]["finish_reason"] as? String ?? ""))
        let usage = try XCTUnwrap(whole["usage"] as? [String: Int])
        XCTAssertEqual(usage["total_tokens"], (usage["prompt_tokens"] ?? -1) + (usage["completion_tokens"] ?? -1))
        // "hi" <sep> "how are you ?": the model's two context turns and the separator.
        XCTAssertEqual(usage["prompt_tokens"], 1 + 1 + 4)

        // Streamed: a role first, the words, a finish reason, the usage asked for, then [DONE].
        let stream = try server.post("/v1/chat/completions", json: ["model": "chat", "messages": messages, "stream": true,
                                                                    "stream_options": ["include_usage": true]])
        XCTAssertEqual(stream.status, 200, stream.text)
        let (chunks, done) = try events(stream)
        XCTAssertTrue(done, stream.text)
        XCTAssertTrue(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" && $0["id"] as? String == chunks[0]["id"] as? String })
        let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
        XCTAssertEqual(deltas.first?["role"] as? String, "assistant")
        XCTAssertEqual(deltas.compactMap { $0["content"] as? String }.joined(), expected)
        XCTAssertEqual(chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }.count, 1)
        XCTAssertEqual(chunks.last?["usage"] as? [String: Int], usage)

        // n choices: the beam's n best, as --candidates lists them.
        let three = try server.post("/v1/chat/completions", json: ["model": "chat", "messages": messages, "n": 3])
        XCTAssertEqual(three.status, 200, three.text)
        let texts = try XCTUnwrap(three.json()["choices"] as? [[String: Any]]).map { ($0["message"] as? [String: Any])?["content"] as? String }
        XCTAssertEqual(texts, candidates.prefix(3).map { $0 })

        // Sampling (a temperature above 0) with a seed: what the command line samples with that seed.
        let sampled = try runRecurrent(["chat", "reply", TestModels.chat, "how are you?", "--context", "hello", "--context", "hi",
                                        "--decoding", "sample", "--temperature", "0.7", "--top-p", "1", "--decoding-seed", "9"])
        let drawn = try server.post("/v1/chat/completions", json: ["model": "chat", "messages": messages, "temperature": 0.7, "seed": 9])
        XCTAssertEqual(((try drawn.json()["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String,
                       sampled.stdout.trimmingCharacters(in: .newlines), drawn.text)

        // The same reply through the task route and through the inference protocol.
        let routed = try server.post("/v2/models/chat/reply", json: ["message": "how are you?", "context": ["hello", "hi"]])
        XCTAssertEqual(try routed.json()["reply"] as? String, expected, routed.text)
        let inferred = try server.post("/v2/models/chat/infer", json: [
            "inputs": [["name": "text_input", "datatype": "BYTES", "shape": [3], "data": ["hello", "hi", "how are you?"]]],
        ])
        XCTAssertEqual(((try inferred.json()["outputs"] as? [[String: Any]])?.first?["data"] as? [String])?.first, expected, inferred.text)
        // OpenAI's client lists the models.
        let models = try server.get("/v1/models").json()
        XCTAssertEqual((models["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, ["chat", "bard", "airline"])
        XCTAssertEqual(try server.get("/v1/models/bard").json()["object"] as? String, "model")
        XCTAssertEqual(try server.metric(#"recurrent_inference_requests_total{model="chat",endpoint="chat.completions",outcome="success"}"#), 4)
    }

    func testCompletionsGiveTheLibrarysContinuation() throws {
        let model = try LanguageModel(contentsOf: TestModels.bard)
        let expected = try model.generate(prompt: "ROMEO.", length: 40, sampling: SamplingOptions(temperature: 0.8, topK: 20), seed: 5)
        let body: [String: Any] = ["model": "bard", "prompt": "ROMEO.", "max_tokens": 40, "temperature": 0.8, "top_k": 20, "seed": 5]
        let reply = try server.post("/v1/completions", json: body)
        XCTAssertEqual(reply.status, 200, reply.text)
        let choice = try XCTUnwrap((try reply.json()["choices"] as? [[String: Any]])?.first)
        XCTAssertEqual(choice["text"] as? String, expected)
        XCTAssertEqual(choice["finish_reason"] as? String, "length")
        XCTAssertEqual(try reply.json()["usage"] as? [String: Int], ["prompt_tokens": 6, "completion_tokens": 40, "total_tokens": 46])
        // Streamed: one event per character, then the finish reason and [DONE].
        var streamed = body
        streamed["stream"] = true
        let (chunks, done) = try events(try server.post("/v1/completions", json: streamed))
        XCTAssertTrue(done)
        let pieces = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first }
        XCTAssertEqual(pieces.compactMap { $0["text"] as? String }.joined(), expected)
        XCTAssertEqual(pieces.compactMap { $0["finish_reason"] as? String }, ["length"])
        // A stop string: the text before its first appearance, whole and streamed alike.
        let start = expected.index(expected.startIndex, offsetBy: 12)
        let stop = String(expected[start..<expected.index(start, offsetBy: 2)])
        let found = try XCTUnwrap(expected.range(of: stop))
        let cut = String(expected[..<found.lowerBound])
        var stopped = body
        stopped["stop"] = [stop, "never written zq"]
        let stopReply = try XCTUnwrap((try server.post("/v1/completions", json: stopped).json()["choices"] as? [[String: Any]])?.first)
        XCTAssertEqual(stopReply["text"] as? String, cut)
        XCTAssertEqual(stopReply["finish_reason"] as? String, "stop")
        stopped["stream"] = true
        let stoppedPieces = try events(try server.post("/v1/completions", json: stopped)).chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first }
        XCTAssertEqual(stoppedPieces.compactMap { $0["text"] as? String }.joined(), cut)
        XCTAssertEqual(stoppedPieces.compactMap { $0["finish_reason"] as? String }, ["stop"])
        // Temperature 0: the most likely token each time; two prompts, two choices each (seeds differ, greedy does not).
        let greedy = try model.generate(prompt: "KING.", length: 10, sampling: SamplingOptions(temperature: 1, topK: 1), seed: 0)
        let many = try server.post("/v1/completions", json: ["model": "bard", "prompt": ["KING.", "ROMEO."], "n": 2, "max_tokens": 10, "temperature": 0])
        let texts = try XCTUnwrap(many.json()["choices"] as? [[String: Any]])
        XCTAssertEqual(texts.compactMap { $0["index"] as? Int }, [0, 1, 2, 3])
        XCTAssertEqual(texts[0]["text"] as? String, greedy)
        XCTAssertEqual(texts[1]["text"] as? String, greedy)
        // A language model in a chat: the turns as text, each followed by a blank line, cut at the next one.
        let prompt = "hello\n\nhow are you?\n\n"
        let continuation = try model.generate(prompt: prompt, length: 30, sampling: SamplingOptions(temperature: 1, topK: 1), seed: 0)
        let chatted = try server.post("/v1/chat/completions", json: ["model": "bard", "max_tokens": 30, "temperature": 0, "messages": [
            ["role": "user", "content": "hello"], ["role": "assistant", "content": "how are you?"],
        ]])
        let said = ((try chatted.json()["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
        XCTAssertEqual(said, continuation.components(separatedBy: "\n\n")[0], chatted.text)
        // A chat model on the completions route replies to the prompt, which echo puts first.
        let chatModelReply = try runRecurrent(["chat", "reply", TestModels.chat, "what is your name?"]).stdout.trimmingCharacters(in: .newlines)
        let echoed = try server.post("/v1/completions", json: ["model": "chat", "prompt": "what is your name?", "echo": true])
        XCTAssertEqual((try echoed.json()["choices"] as? [[String: Any]])?.first?["text"] as? String, "what is your name?" + chatModelReply, echoed.text)
    }

    func testRefusalsAreOpenAIErrorsNamingTheField() throws {
        let chat: [String: Any] = ["model": "chat", "messages": [["role": "user", "content": "hello"]]]
        func with(_ changes: [String: Any]) -> [String: Any] { chat.merging(changes) { $1 } }
        let cases: [(String, [String: Any], Int, String?, String?, String)] = [
            ("/v1/chat/completions", with(["model": "nobody"]), 404, "model", "model_not_found", "unknown model \"nobody\""),
            ("/v1/chat/completions", with(["model": "airline"]), 400, "model", "model_not_supported", "does not write text"),
            ("/v1/chat/completions", with(["tools": [["type": "function", "function": ["name": "f"]]]]), 400, "tools", nil, "cannot call tools"),
            ("/v1/chat/completions", with(["messages": [["role": "user", "content": [["type": "image_url", "image_url": ["url": "x.png"]]]]]]),
             400, "type", nil, "messages[0].content[0]"),
            ("/v1/chat/completions", with(["messages": []]), 400, "messages", nil, "is empty"),
            ("/v1/chat/completions", with(["messages": [["role": "robot", "content": "hi"]]]), 400, "role", nil, "\"robot\""),
            ("/v1/chat/completions", with(["messages": [["role": "system", "content": "be kind"]]]), 400, "messages", nil, "no user or assistant message"),
            ("/v1/chat/completions", with(["n": 17]), 400, "n", nil, "1...16"),
            ("/v1/chat/completions", with(["temperature": 3]), 400, "temperature", nil, "0 to 2"),
            ("/v1/chat/completions", with(["logprobs": true]), 400, "logprobs", nil, "log-probabilities"),
            ("/v1/chat/completions", with(["response_format": ["type": "json_object"]]), 400, "response_format", nil, "text only"),
            ("/v1/chat/completions", with(["colour": "red"]), 400, "colour", nil, "unknown field \"colour\""),
            ("/v1/chat/completions", with(["stream_options": ["include_usage": true]]), 400, "stream_options", nil, "without \"stream\""),
            ("/v1/chat/completions", with(["rerank": "mmi-bidi", "max_tokens": 0]), 400, "max_tokens", nil, "1...10000"),
            // Found by schemathesis (on the reply route): scores of -inf from a length normalization of 1e300.
            ("/v1/chat/completions", with(["length_penalty": 1e300]), 400, "length_penalty", nil, "expected 0.0 to 10.0"),
            ("/v2/models/chat/reply", ["message": "hi", "length_normalization": 1e300], 400, nil, nil, "expected 0.0 to 10.0"),
            ("/v1/completions", ["model": "bard", "prompt": [1, 2, 3]], 400, "prompt", nil, "token ids are not read"),
            ("/v1/completions", ["model": "bard", "prompt": "a", "suffix": "b"], 400, "suffix", nil, "fill"),
            ("/v1/completions", ["model": "bard", "prompt": "a", "stop": ["a", "b", "c", "d", "e"]], 400, "stop", nil, "limit of 4"),
            // One past Int64's range: refused, not a trap on the conversion.
            ("/v1/completions", ["model": "bard", "prompt": "a", "seed": 9_223_372_036_854_775_808.0], 400, "seed", nil, "whole number"),
        ]
        for (path, body, status, param, code, fragment) in cases {
            let reply = try server.post(path, json: body)
            XCTAssertEqual(reply.status, status, "\(body): \(reply.text)")
            if path.hasPrefix("/v2/") {
                XCTAssertTrue(((try? reply.json()["error"] as? String) ?? "").contains(fragment), "\(fragment) in \(reply.text)")
                continue
            }
            let error = try XCTUnwrap(try reply.json()["error"] as? [String: Any], reply.text)
            XCTAssertTrue((error["message"] as? String ?? "").contains(fragment), "\(fragment) in \(reply.text)")
            XCTAssertEqual(error["type"] as? String, "invalid_request_error", reply.text)
            XCTAssertEqual(error["param"] as? String, param, reply.text)
            XCTAssertEqual(error["code"] as? String, code, reply.text)
        }
        let malformed = try server.request("POST", "/v1/chat/completions", body: Data("{\"model\": ".utf8))
        XCTAssertEqual(malformed.status, 400)
        XCTAssertNotNil(try malformed.json()["error"] as? [String: Any])
        let wrongMethod = try server.get("/v1/chat/completions")
        XCTAssertEqual(wrongMethod.status, 405)
        XCTAssertEqual(wrongMethod.header("Allow"), "POST")
        XCTAssertNotNil(try wrongMethod.json()["error"] as? [String: Any])
        XCTAssertEqual(try server.get("/v1/models/nobody").status, 404)
        // The generate route had the same conversion.
        let generate = try server.post("/v2/models/bard/generate", json: ["text_input": "a", "seed": 9_223_372_036_854_775_808.0])
        XCTAssertEqual(generate.status, 400, generate.text)
        // Still serving.
        XCTAssertEqual(try server.post("/v1/chat/completions", json: chat).status, 200)
    }
}
