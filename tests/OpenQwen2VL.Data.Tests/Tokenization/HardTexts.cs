using System.Text;

namespace OpenQwen2VL.Tests.Tokenization;

/// <summary>
/// Random texts made of what breaks tokenizers, deterministic from a seed: words of many scripts (Latin with
/// accents, Cyrillic, Greek, CJK incl. astral ideographs, Hangul, Arabic, Hebrew, Devanagari, Thai), combining marks
/// on any base (composable by NFC or not), emoji with skin tones and ZWJ sequences, flags, digit runs and numbers,
/// whitespace runs (tabs, CR/LF, NBSP, ideographic and other Unicode spaces), contractions in any case, code, and
/// the given added/special tokens glued to anything.
/// </summary>
internal static class HardTexts
{
    private static readonly (int From, int To)[] s_letterRanges =
    [
        ('a', 'z'), ('A', 'Z'), (0xC0, 0xFF), (0x100, 0x17F), (0x400, 0x44F), (0x391, 0x3C9), (0x4E00, 0x9FA5), (0x3040, 0x30FF),
        (0xAC00, 0xD7A3), (0x621, 0x64A), (0x5D0, 0x5EA), (0x905, 0x939), (0xE01, 0xE2E), (0x20000, 0x2A6DF), (0x1D400, 0x1D7FF),
    ];
    private static readonly int[] s_combining = [0x301, 0x300, 0x308, 0x302, 0x327, 0x303, 0x30A, 0x323, 0x93F, 0x94D, 0x93E, 0xE31, 0xE34, 0xE48, 0x64E, 0x651, 0x3099];
    private static readonly string[] s_emoji = ["🙂", "👍", "❤️", "🎉", "🐱", "🚀", "☕", "🇯🇵", "🇺🇸", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🤷‍♀️", "✊", "🧑🏿‍🚀", "1️⃣", "©", "™"];
    private static readonly string[] s_skinTones = ["🏻", "🏼", "🏽", "🏾", "🏿"];
    private static readonly string[] s_spaces = [" ", "  ", "\t", "\n", "\r\n", "\n\n", "\r", "\u00a0", "\u3000", "\u2003", "\u202f", "\u2028", "\u0085", " \n ", "\t\t", "    "];
    private static readonly string[] s_punctuation = [".", ",", "!?", "...", "#$%", "(", ")", "[", "]", "{", "}", "\"", "'", "«", "»", "—", "–", "、", "。", "：", "؟", "।", "_", "-", "@", "/", "\\"];
    private static readonly string[] s_contractions = ["'s", "'S", "'t", "'T", "'re", "'RE", "'ve", "'Ve", "'m", "'M", "'ll", "'LL", "'d", "'D", "n't", "’s"];
    private static readonly string[] s_code =
    [
        "def f(x):\n    return x**2\n", "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}", "SELECT * FROM t WHERE id=42;",
        "const re = /^\\s+|\\s+$/g;", "if (a && b || !c) { x <<= 2; }", "#include <stdio.h>\n", "    # comment\n    pass",
        "x = [1, 2, 3]  # list", "fn main() -> Result<(), Box<dyn Error>> {}", "<div class=\"a\">&nbsp;</div>", "$ ls -la ~/.config",
        "a_b_c = 0x1F; b = 1e-9", "{\"key\": [true, null, 3.14]}",
    ];

    public static IEnumerable<string> Generate(int count, int seed, IReadOnlyList<string> addedTokens)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder();
        for (int i = 0; i < count; i++)
        {
            sb.Clear();
            for (int k = rng.Next(1, 16); k > 0; k--) AppendPart(sb, rng, addedTokens);
            yield return sb.ToString();
        }
    }

    private static void AppendPart(StringBuilder sb, Random rng, IReadOnlyList<string> addedTokens)
    {
        switch (rng.Next(11))
        {
            case 0 or 1 or 2: AppendWord(sb, rng); break;
            case 3: sb.Append(s_spaces[rng.Next(s_spaces.Length)]); break;
            case 4:  // digit runs of any length, numbers with separators
                for (int d = rng.Next(1, 14); d > 0; d--) sb.Append((char)('0' + rng.Next(10)));
                if (rng.Next(3) == 0) sb.Append(rng.Next(2) == 0 ? '.' : ',').Append(rng.Next(1000));
                break;
            case 5:
                string e = s_emoji[rng.Next(s_emoji.Length)];
                sb.Append(e);
                if (rng.Next(3) == 0) sb.Append(s_skinTones[rng.Next(s_skinTones.Length)]);
                if (rng.Next(4) == 0) sb.Append('\u200d').Append(s_emoji[rng.Next(s_emoji.Length)]);
                break;
            case 6: sb.Append(s_punctuation[rng.Next(s_punctuation.Length)]); break;
            case 7: sb.Append(s_contractions[rng.Next(s_contractions.Length)]); break;
            case 8: sb.Append(s_code[rng.Next(s_code.Length)]); break;
            case 9: if (addedTokens.Count > 0) sb.Append(addedTokens[rng.Next(addedTokens.Count)]); break;
            default:  // a combining mark on whatever precedes it (a letter, a space, a digit, nothing)
                for (int m = rng.Next(1, 3); m > 0; m--) sb.Append((char)s_combining[rng.Next(s_combining.Length)]);
                break;
        }
    }

    private static void AppendWord(StringBuilder sb, Random rng)
    {
        if (rng.Next(3) == 0) sb.Append(' ');
        var (from, to) = s_letterRanges[rng.Next(s_letterRanges.Length)];
        for (int n = rng.Next(1, 9); n > 0; n--)
        {
            sb.Append(char.ConvertFromUtf32(rng.Next(from, to + 1)));
            if (rng.Next(8) == 0) sb.Append((char)s_combining[rng.Next(s_combining.Length)]);
        }
    }
}
