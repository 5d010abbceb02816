"""shaping_corpus.py -- writes the shaping benchmark's corpus: N samples of
JSON Lines, each with a completion of 4 KB (4,000 to 4,096 bytes of UTF-8),
in groups of 8, deterministic for a seed.

Language mix (by sample): 50% English, 30% Chinese, 20% Chinese and English
mixed in one chain of thought. About one completion in five loops (a run of
sentences said again), a third carry step markers ("Step 3:", "First,",
lists), half carry completion_tokens, and the final answer is in
<answer></answer>, right for about half of them.

    python3 shaping_corpus.py -n 20000 -o corpus.jsonl [--seed 7]
"""
import argparse
import json
import random

EN = ("we first compute the sum of the two numbers and then divide by three so the result is an integer "
      "let us check the case where n is even because the parity matters here and the remainder must be zero "
      "therefore the answer follows from the previous step").split()
ZH = list("我们先计算两个数的和然后除以三所以结果是整数让我们检查一下当为偶数时的情况因为奇偶性在这里很重要余数必须为零因此答案由上一步得出")
MARKERS = ["Step %d: ", "First, ", "Next, ", "Finally, ", "\n- ", "\n* "]
TARGET = 4096


def sentence(rnd, lang):
    if lang == "en":
        words = [rnd.choice(EN) for _ in range(rnd.randint(6, 18))]
        s = " ".join(words).capitalize() + ". "
    elif lang == "zh":
        s = "".join(rnd.choice(ZH) for _ in range(rnd.randint(8, 30))) + "。"
    else:
        s = "".join(rnd.choice(ZH) for _ in range(rnd.randint(4, 12))) + " " + \
            " ".join(rnd.choice(EN) for _ in range(rnd.randint(2, 6))) + " x = %d，" % rnd.randint(0, 999)
    if rnd.random() < 0.25:
        m = rnd.choice(MARKERS)
        s = (m % rnd.randint(1, 20) if "%d" in m else m) + s
    return s


def completion(rnd, lang, value):
    tail = "</think>\nThe answer is <answer>%d</answer>" % value
    parts, size = ["<think>"], len("<think>")
    loop = rnd.random() < 0.2
    while size < TARGET - len(tail) - 200:
        if loop and len(parts) > 4 and rnd.random() < 0.5:
            chunk = "".join(parts[-4:])
        else:
            chunk = sentence(rnd, lang)
        parts.append(chunk)
        size += len(chunk.encode())
    text = "".join(parts)
    body = text.encode()[:TARGET - len(tail)].decode("utf-8", "ignore")  # cut at a character boundary
    return body + tail


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("-o", required=True)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    with open(a.o, "w", encoding="utf-8") as f:
        for i in range(a.n):
            r = rnd.random()
            lang = "en" if r < 0.5 else ("zh" if r < 0.8 else "mixed")
            gold = rnd.randint(1, 99)
            value = gold if rnd.random() < 0.5 else gold + 1
            row = {"id": i, "group": i // 8, "prompt": "Question %d" % i, "answer": str(gold),
                   "completion": completion(rnd, lang, value), "language": "en" if lang == "en" else "zh"}
            if rnd.random() < 0.5:
                row["completion_tokens"] = rnd.randint(900, 1400)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
