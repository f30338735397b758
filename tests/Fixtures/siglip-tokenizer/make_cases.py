#!/usr/bin/python3
"""Expected SigLIP text-tower ids for tests/OpenQwen2VL.Data.Tests (SiglipTextTokenizerTests).

Run with Debian's python3-sentencepiece (0.1.97): /usr/bin/python3 make_cases.py
Writes spiece.model (a 4,000-piece Unigram model trained here with nmt_nfkc, pieces 0 <pad>, 1 </s>, 2 <unk>, the layout of
the published SigLIP spiece.model) and cases.json. The ids follow what HF transformers' SiglipTokenizer does when a
SigLIP processor is called with padding="max_length", max_length=64, truncation=True; its steps are restated below
(this machine has no transformers), each as that class performs it:
  1. "▁" + text with every "▁" replaced by " ";
  2. str.lower() (special-token strings are left as they are; they are lower-case already);
  3. split on the special-token strings "</s>" and "<unk>", stripping whitespace on both sides of each (they are
     AddedTokens with lstrip and rstrip); empty chunks dropped;
  4. each other chunk: remove string.punctuation, re.sub(r"\\s+", " "), strip(); encode "<unk>" + chunk with the model's
     add_dummy_prefix turned off, and drop the first len(encode("<unk>")) pieces; pieces -> ids with piece_to_id;
  5. a leading "▁" piece is dropped when a special token follows it;
  6. truncate to 63 ids, append </s> unless the last id is </s> already, pad with </s> to 64.
"""
import json, random, re, string, sys
import sentencepiece as spm

here = sys.path[0]

def train(corpus_path, prefix):
    rng = random.Random(7)
    words = ("a the red blue green small large dog cat running park sunset beach photo of an old man woman child playing "
             "football city street night car bus train station mountain river lake snow winter summer house kitchen table "
             "chair food pizza coffee 2019 2020 93222 100 1st 2nd café naïve über straße москва 東京 北京 서울 القاهرة मुंबई "
             "ğüşö ñ").split()
    syllables = "ka ri to ma ne su lo pe di an er in on st th ch sh qu ex ph tr pl".split()
    words += ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(3000)]
    lines = []
    for _ in range(30000):
        parts = [str(rng.randint(0, 10 ** rng.randint(1, 7))) if rng.random() < 0.2 else rng.choice(words)
                 for _ in range(rng.randint(3, 18))]
        lines.append(" ".join(parts))
    with open(corpus_path, "w") as f: f.write("\n".join(lines))
    spm.SentencePieceTrainer.train(input=corpus_path, model_prefix=prefix, vocab_size=4000, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        normalization_rule_name="nmt_nfkc", character_coverage=0.9995, minloglevel=2)

def processor(model_path):
    # HF merges NormalizerSpec(add_dummy_prefix=False) into the model. Protobuf merges a repeated embedded message, so
    # appending field 3 (normalizer_spec) holding only field 3 (add_dummy_prefix) = 0 does the same without protobuf.
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(open(model_path, "rb").read() + bytes([0x1A, 0x02, 0x18, 0x00]))
    return sp

SPECIALS = ["</s>", "<unk>"]
EOS, MAX = 1, 64

def siglip_ids(sp, text):
    text = ("▁" + text.replace("▁", " ")).lower()
    chunks = re.split("(" + "|".join(re.escape(s) for s in SPECIALS) + ")", text)
    for i, c in enumerate(chunks):
        if c in SPECIALS:
            if i > 0: chunks[i - 1] = chunks[i - 1].rstrip()
            if i + 1 < len(chunks): chunks[i + 1] = chunks[i + 1].lstrip()
    unk_len = len(sp.encode("<unk>", out_type=str))
    pieces = []
    for c in chunks:
        if not c: continue
        if c in SPECIALS: pieces.append(c); continue
        c = re.sub(r"\s+", " ", c.translate(str.maketrans("", "", string.punctuation))).strip()
        t = sp.encode("<unk>" + c, out_type=str)
        pieces.extend(t[unk_len:] if len(t) >= unk_len else t)
    if len(pieces) > 1 and pieces[0] == "▁" and pieces[1] in SPECIALS: pieces = pieces[1:]
    ids = [sp.piece_to_id(p) for p in pieces][:MAX - 1]
    if not ids or ids[-1] != EOS: ids.append(EOS)
    return ids + [EOS] * (MAX - len(ids))

def texts():
    rng = random.Random(11)
    hard = ["", " ", "   leading and trailing   ", "UPPER Case Words", "Hello, World!", "it's a dog's life...",
            "e-mail: someone@example.com", "100% (one hundred) #1 [best] {ever} <tag> ~tilde~ `code` ^caret^ |pipe|",
            "tabs\tand\nnewlines\r\nand\u000bvertical\u000cfeeds", "no\u00a0break\u2009thin\u3000ideographic",
            "\u001cfile\u001dgroup\u001erecord\u001funit separators", "zero\u200bwidth", "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ ４２",
            "ﬁne ligature ﬀ", "Café NAÏVE Über STRASSE straße ẞ", "İstanbul DİYARBAKIR", "ΟΔΟΣ Σοφία ΣΑΣ", "Москва ЗИМОЙ",
            "東京 の 夜景", "北京烤鸭", "서울 야경", "القاهرة ليلا", "मुंबई शहर", "ğüşö ÑANDÚ", "emoji 😀 🐶🐶 👍🏽 👨‍👩‍👧",
            "unknown runs ☃☃☃ and ♞", "93222 932229 2020 1st 2nd 3rd 000123", "a▁b ▁▁ c", "▁", "</s>", "a </s> b", "<unk>",
            "text <UNK> upper", "x</s>", "</s></s>", "   </s>   end", "😀", "...!!!", "???", "a" * 300,
            " ".join(["word"] * 80), "café " * 40, "combining e\u0301 a\u0308 o\u0302", "ｶﾀｶﾅ half-width", "①②③ ⅣⅤ",
            "ℌ𝔢𝔩𝔩𝔬 𝐛𝐨𝐥𝐝", "dots…and—dashes–here", "«quotes» “curly” ‘single’", "a\u0000b", "\ufeffbom start"]
    words = ("a the red blue green small large dog cat running park sunset beach photo of an old man woman child playing "
             "football city street night car bus train station mountain river lake snow Winter SUMMER house kitchen "
             "table chair food pizza coffee 2019 93222 café naïve Москва 東京 서울 القاهرة मुंबई ñ 😀 ☃ x-ray it's "
             "5.5 10,000 #tag @user http://example.com/a?b=c").split()
    seps = [" ", " ", " ", "  ", ", ", ". ", "\t", "\n", "! "]
    gen = []
    for _ in range(300):
        n = rng.randint(1, 30)
        s = "".join(rng.choice(words) + rng.choice(seps) for _ in range(n))
        if rng.random() < 0.3: s = s.upper() if rng.random() < 0.5 else s.title()
        gen.append(s)
    # Digit runs and syllable words: where equal-score segmentations are most likely (ties).
    syllables = "ka ri to ma ne su lo pe di an er in on st th ch sh qu ex ph tr pl".split()
    for _ in range(200):
        gen.append(" ".join(str(rng.randint(0, 10 ** rng.randint(1, 9))) if rng.random() < 0.5 else
                            "".join(rng.choice(syllables) for _ in range(rng.randint(1, 5)))
                            for _ in range(rng.randint(1, 8))))
    return hard + gen

if __name__ == "__main__":
    import os, tempfile
    with tempfile.TemporaryDirectory() as tmp:
        train(os.path.join(tmp, "corpus.txt"), os.path.join(tmp, "spiece"))
        data = open(os.path.join(tmp, "spiece.model"), "rb").read()
    open(os.path.join(here, "spiece.model"), "wb").write(data)
    # A 50-piece model (identity normaliser, so no 250 KB character map) that fits the reference fixture's SigLIP
    # text tower (vocab_size 300): the scorer's end-to-end tests use it.
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        rng = random.Random(5)
        words = "a the red blue green small large circle square triangle left right top bottom photo of dog cat".split()
        with open(corpus, "w") as f: f.write("\n".join(" ".join(rng.choice(words) for _ in range(8)) for _ in range(3000)))
        spm.SentencePieceTrainer.train(input=corpus, model_prefix=os.path.join(tmp, "small"), vocab_size=50,
            model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>",
            unk_piece="<unk>", normalization_rule_name="identity", minloglevel=2)
        small = open(os.path.join(tmp, "small.model"), "rb").read()
    open(os.path.join(here, "spiece-small.model"), "wb").write(small)
    sp = processor(os.path.join(here, "spiece.model"))
    cases = [{"text": t, "ids": siglip_ids(sp, t)} for t in texts()]
    with open(os.path.join(here, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "make_cases.py, sentencepiece " + spm.__version__, "max_length": MAX, "cases": cases},
                  f, ensure_ascii=True, indent=0)
    print(f"{len(cases)} cases")
