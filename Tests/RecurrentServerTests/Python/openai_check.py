"""OpenAI's Python client against `recurrent serve`, with the client's defaults.

    python openai_check.py http://HOST:PORT/v1 EXPECTED_REPLY

The server holds `chat` (a chat model), `bard` (a character language model) and `airline` (a
forecaster). EXPECTED_REPLY is what `recurrent chat reply chat.model "how are you?" --context
hello --context hi` printed. Exits 1 at the first failure.
"""
import sys

import openai


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def refused(error_class, call, fragment):
    try:
        call()
    except error_class as error:
        check(fragment in str(error), f"{error_class.__name__} ({error.status_code}) naming {fragment!r}: {error}")
        return
    check(False, f"{error_class.__name__} for {fragment!r}")


def main():
    base_url, expected = sys.argv[1], sys.argv[2]
    client = openai.OpenAI(base_url=base_url, api_key="not-needed", max_retries=0)
    ids = [model.id for model in client.models.list()]
    check(ids == ["chat", "bard", "airline"], f"models.list() gives {ids}")
    check(client.models.retrieve("bard").id == "bard", "models.retrieve()")

    messages = [{"role": "system", "content": "You are kind."}, {"role": "user", "content": "hello"},
                {"role": "assistant", "content": "hi"}, {"role": "user", "content": "how are you?"}]
    completion = client.chat.completions.create(model="chat", messages=messages)
    said = completion.choices[0].message.content
    check(said == expected, f"chat.completions.create() replies {said!r}, as recurrent chat reply does")
    check(completion.choices[0].finish_reason in ("stop", "length"), f"finish_reason {completion.choices[0].finish_reason}")
    check(completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens, f"usage {completion.usage}")

    stream = client.chat.completions.create(model="chat", messages=messages, stream=True, stream_options={"include_usage": True})
    pieces, usage, reasons = [], None, []
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            if choice.finish_reason:
                reasons.append(choice.finish_reason)
    check("".join(pieces) == expected, f"streamed in {len(pieces)} chunks: {''.join(pieces)!r}")
    check(len(reasons) == 1 and usage == completion.usage, f"one finish reason {reasons} and the usage {usage}")

    two = client.chat.completions.create(model="chat", messages=messages, n=2)
    check([c.index for c in two.choices] == [0, 1] and two.choices[0].message.content == expected, "n=2: two choices, the first the best")
    sampled = client.chat.completions.create(model="chat", messages=messages, temperature=0.7, seed=3, max_tokens=5)
    check(sampled.usage.completion_tokens <= 5, f"sampled with max_tokens=5: {sampled.choices[0].message.content!r}")
    # A client's extra parameters (vLLM's way) reach the model's own decoding.
    reranked = client.chat.completions.create(model="chat", messages=messages, extra_body={"rerank": "mmi-antilm", "mmi_weight": 1.0})
    check(isinstance(reranked.choices[0].message.content, str), f"rerank=mmi-antilm: {reranked.choices[0].message.content!r}")

    text = client.completions.create(model="bard", prompt="ROMEO.", max_tokens=30, temperature=0)
    check(len(text.choices[0].text) > 0 and text.usage.completion_tokens == 30, f"completions.create(): {text.choices[0].text!r}")
    again = "".join(c.choices[0].text for c in client.completions.create(model="bard", prompt="ROMEO.", max_tokens=30, temperature=0, stream=True))
    check(again == text.choices[0].text, "streamed completion equals the whole one")
    stopped = client.completions.create(model="bard", prompt="ROMEO.", max_tokens=30, temperature=0, stop=[text.choices[0].text[5:7]])
    check(stopped.choices[0].finish_reason == "stop" and text.choices[0].text.startswith(stopped.choices[0].text), f"stop: {stopped.choices[0].text!r}")

    refused(openai.NotFoundError, lambda: client.chat.completions.create(model="nobody", messages=messages), "unknown model")
    refused(openai.BadRequestError, lambda: client.chat.completions.create(model="airline", messages=messages), "does not write text")
    refused(openai.BadRequestError, lambda: client.chat.completions.create(
        model="chat", messages=messages, tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}]), "cannot call tools")
    refused(openai.BadRequestError, lambda: client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/x.png"}}]}]),
        "read text only")
    print("all openai client checks passed")


if __name__ == "__main__":
    main()
