"""Drive a running maas-server with the official `openai` Python client.

tools/test-server.sh starts the servers and calls this script:

    python3 tools/test_server_openai.py --gpt2 http://127.0.0.1:PORT/v1 \
        --generate build/bin/maas-generate --gpt2-model build/fixtures/gpt2-tiny.maas
    python3 tools/test_server_openai.py --bert http://127.0.0.1:PORT/v1

Exits 1 when any check fails.  Needs only `pip install openai` (no torch).
"""
import argparse
import subprocess
import sys

import openai

failures = 0


def check(name, expected, actual):
    global failures
    if expected == actual:
        print(f"ok    openai: {name}")
    else:
        failures += 1
        print(f"FAIL  openai: {name}: expected {expected!r}, got {actual!r}")


def check_raises(name, error_type, call):
    global failures
    try:
        call()
    except error_type as e:
        print(f"ok    openai: {name} ({type(e).__name__} {getattr(e, 'status_code', '')})")
        return
    except Exception as e:  # any other outcome is a failure of this check
        failures += 1
        print(f"FAIL  openai: {name}: expected {error_type.__name__}, got {type(e).__name__}: {e}")
        return
    failures += 1
    print(f"FAIL  openai: {name}: expected {error_type.__name__}, got a result")


def client_for(url, key="unused"):
    # max_retries=0: a 503 must reach the check, not be retried.
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=60)


def test_gpt2(url, generate, model_path):
    client = client_for(url)
    model = client.models.list().data[0].id
    check("models.list has one model", "gpt2-tiny", model)

    # Greedy completion equals maas-generate's output.
    prompt = "It was a dark and stormy night"
    done = client.completions.create(model=model, prompt=prompt, max_tokens=10, temperature=0)
    expected = subprocess.run(
        [generate, "-m", model_path, "-p", prompt, "-n", "10", "--temp", "0"],
        capture_output=True, check=True).stdout.decode("utf-8", "surrogateescape")
    # maas-generate ends its output with a newline when the text has none.
    if expected.endswith("\n") and not done.choices[0].text.endswith("\n"):
        expected = expected[:-1]
    check("greedy completion equals maas-generate", expected, done.choices[0].text)
    check("usage adds up", done.usage.prompt_tokens + done.usage.completion_tokens,
          done.usage.total_tokens)
    check("finish reason at max_tokens", "length", done.choices[0].finish_reason)

    # Streaming gives the same text as the whole response for one seed.
    params = dict(model=model, prompt="The weather today", max_tokens=16, temperature=0.9,
                  top_p=0.9, seed=42)
    whole = client.completions.create(**params).choices[0].text
    pieces = []
    for chunk in client.completions.create(stream=True, **params):
        if chunk.choices:
            pieces.append(chunk.choices[0].text)
    check("streamed completion equals whole", whole, "".join(pieces))

    # Chat, whole and streamed.
    messages = [{"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "What is the capital of France?"}]
    reply = client.chat.completions.create(model=model, messages=messages, max_tokens=12,
                                           temperature=0)
    check("chat role", "assistant", reply.choices[0].message.role)
    deltas = []
    for chunk in client.chat.completions.create(model=model, messages=messages, max_tokens=12,
                                                temperature=0, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            deltas.append(chunk.choices[0].delta.content)
    check("streamed chat equals whole", reply.choices[0].message.content, "".join(deltas))

    # Usage in the last chunk on request.
    chunks = list(client.completions.create(model=model, prompt="a", max_tokens=3,
                                            temperature=0, stream=True,
                                            stream_options={"include_usage": True}))
    check("stream usage chunk", 3, chunks[-1].usage.completion_tokens if chunks[-1].usage else None)

    # Errors map to the client's exception types.
    check_raises("n=2 is rejected", openai.BadRequestError,
                 lambda: client.completions.create(model=model, prompt="a", n=2))
    check_raises("negative max_tokens", openai.BadRequestError,
                 lambda: client.completions.create(model=model, prompt="a", max_tokens=-1))
    check_raises("embeddings on GPT-2", openai.BadRequestError,
                 lambda: client.embeddings.create(model=model, input="a"))
    check_raises("unknown model id", openai.NotFoundError,
                 lambda: client.models.retrieve("no-such-model"))


def test_bert(url):
    client = client_for(url)
    model = client.models.list().data[0].id

    # The client asks for base64 by default and decodes it; float must agree.
    b64 = client.embeddings.create(model=model, input=["first text", "second text"])
    floats = client.embeddings.create(model=model, input=["first text", "second text"],
                                      encoding_format="float")
    check("two embeddings", 2, len(b64.data))
    same = all(abs(a - b) <= 1e-6 * max(1.0, abs(b))
               for x, y in zip(b64.data, floats.data)
               for a, b in zip(x.embedding, y.embedding))
    check("base64 and float embeddings agree", True, same)
    check("embedding length", len(floats.data[0].embedding), len(b64.data[1].embedding))
    check_raises("completions on BERT", openai.BadRequestError,
                 lambda: client.completions.create(model=model, prompt="a"))


def test_key(url, key):
    check_raises("wrong key", openai.AuthenticationError,
                 lambda: client_for(url, key="wrong").models.list())
    check("right key", 1, len(client_for(url, key=key).models.list().data))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpt2", help="base URL of a server with a GPT-2 model")
    parser.add_argument("--generate", help="path of maas-generate")
    parser.add_argument("--gpt2-model", help="the .maas file the GPT-2 server serves")
    parser.add_argument("--bert", help="base URL of a server with a BERT model")
    parser.add_argument("--keyed", help="base URL of a server started with --api-key")
    parser.add_argument("--key", help="the key of the --keyed server")
    args = parser.parse_args()
    if args.gpt2:
        test_gpt2(args.gpt2, args.generate, args.gpt2_model)
    if args.bert:
        test_bert(args.bert)
    if args.keyed:
        test_key(args.keyed, args.key)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
