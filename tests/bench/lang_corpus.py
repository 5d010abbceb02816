"""lang_corpus.py -- the corpora of bench/lang.sh: chains of thought of about
4 KB, deterministic (seeded), one JSONL sample per line with `language`.

  lang_corpus.py --lang en -n N -o FILE   English CoTs: English sentences of
      mathematical reasoning, one in three with inline math ($...$), numbers.
  lang_corpus.py --lang zh -n N -o FILE   Chinese CoTs: Chinese sentences,
      one in three with inline math, one in ten an English sentence (the R1
      drift), a fenced code block in one sample in four.
Each completion is "<think>" + CoT (3.9 to 4.1 KB) + "</think>" + an answer.
"""
import argparse
import json
import random

EN = [
    "First, let us find the derivative of the function.",
    "So the sum of the two roots must be seven.",
    "Wait, I made a mistake in the previous step.",
    "Let me check whether this value satisfies the equation.",
    "Therefore the area of the triangle is twelve.",
    "We can divide both sides by the same number.",
    "Now substitute this expression back into the first equation.",
    "Since the angle is a right angle, we can use the theorem of Pythagoras.",
    "Hmm, that does not match the answer I expected.",
    "This means the function is increasing on the whole interval.",
    "I need to be careful with the sign here.",
    "Let me try a few small cases to see the pattern.",
    "So the answer should be the smallest positive solution.",
    "Expanding the brackets gives a quadratic in the unknown.",
    "This contradicts our assumption, so the claim is true.",
    "Adding the two equations eliminates one of the unknowns.",
]
EN_MATH = ["Then $x^2 + 2x + 1 = 0$ gives $x = -1$.", "We get $\\frac{a}{b} = 3$ and so $a = 3b$.",
           "The integral $\\int_0^1 x\\,dx$ equals $\\frac{1}{2}$.", "So f(x) = 2x + 1 at x = 4 gives 9."]
ZH = [
    "我们需要计算这个函数的导数。", "因为这个方程有两个根，所以它们的和等于七。", "等一下，我在上一步算错了。",
    "让我检查一下这个值是否满足方程。", "因此三角形的面积是十二。", "我们可以把两边同时除以同一个数。",
    "现在把这个表达式代回第一个方程。", "因为这个角是直角，所以可以用勾股定理。", "嗯，这和我预期的答案不一样。",
    "这说明函数在整个区间上是递增的。", "这里要注意符号。", "我们先试几个小的情况，看看规律。",
    "所以答案应该是最小的正整数解。", "展开括号后得到一个关于未知数的二次方程。", "这与我们的假设矛盾，所以结论成立。",
]
ZH_MATH = ["于是 $x^2 + 2x + 1 = 0$，得到 $x = -1$。", "由 $\\frac{a}{b} = 3$ 可知 $a = 3b$。",
           "积分 $\\int_0^1 x\\,dx$ 等于 $\\frac{1}{2}$。", "所以 f(x) = 2x + 1 在 x = 4 时等于 9。"]
CODE = "\n```python\ndef f(x):\n    return 2 * x + 1\nprint(f(4))\n```\n"


def cot(rng, lang, size=4000):
    parts, n = [], 0
    if lang == "zh" and rng.random() < 0.25:
        parts.append(CODE)
        n += len(CODE.encode())
    while n < size:
        r = rng.random()
        if lang == "en":
            s = rng.choice(EN_MATH) if r < 1 / 3 else rng.choice(EN)
        else:
            s = rng.choice(EN) if r < 0.1 else rng.choice(ZH_MATH) if r < 0.1 + 1 / 3 else rng.choice(ZH)
        s += " " if lang == "en" else ""
        if rng.random() < 0.15:
            s += "\n"
        parts.append(s)
        n += len(s.encode())
    return "".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lang", choices=["en", "zh"], required=True)
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("-o", required=True)
    a = ap.parse_args()
    rng = random.Random(5 if a.lang == "en" else 6)
    with open(a.o, "w", encoding="utf-8") as f:
        for i in range(a.n):
            c = "<think>" + cot(rng, a.lang) + "</think>\n\\boxed{9}"
            f.write(json.dumps({"id": i, "language": a.lang, "completion": c}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
