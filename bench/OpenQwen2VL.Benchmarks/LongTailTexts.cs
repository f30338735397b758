using System.Text;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// Texts with the long tail of web captions and SFT conversations: words drawn from a Zipf distribution (exponent s)
/// over many distinct made-up words, built from syllables of several scripts (Latin with some accents, Cyrillic, Greek,
/// Hangul, CJK, Arabic, Devanagari, Thai), plus numbers and punctuation. A word's frequency rank does not depend on its
/// script. Deterministic from the seed.
/// </summary>
internal sealed class LongTailTexts
{
    private readonly string[] _words;      // by frequency rank
    private readonly double[] _cumulative;  // Zipf CDF over ranks

    public LongTailTexts(int distinctWords, double exponent, int seed)
    {
        var rng = new Random(seed);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var words = new List<string>(distinctWords);
        while (words.Count < distinctWords)
        {
            string w = MakeWord(rng);
            if (seen.Add(w)) words.Add(w);
        }
        _words = [.. words];
        _cumulative = new double[distinctWords];
        double sum = 0;
        for (int r = 0; r < distinctWords; r++) _cumulative[r] = sum += Math.Pow(r + 1, -exponent);
        for (int r = 0; r < distinctWords; r++) _cumulative[r] /= sum;
    }

    public int DistinctWords => _words.Length;

    /// <summary>The words from the most frequent down: what a fill-once word cache holds in a long run's steady state.</summary>
    public IEnumerable<string> WordsByRank => _words;

    /// <summary><paramref name="count"/> texts of 6-40 words each.</summary>
    public string[] Texts(int count, int seed)
    {
        var rng = new Random(seed);
        var texts = new string[count];
        var sb = new StringBuilder();
        for (int i = 0; i < count; i++)
        {
            sb.Clear();
            for (int k = rng.Next(6, 41); k > 0; k--)
            {
                if (sb.Length > 0) sb.Append(rng.Next(12) switch { 0 => ", ", 1 => ". ", 2 => "\n", _ => " " });
                int pick = rng.Next(20);
                if (pick == 0) sb.Append(rng.Next(1, 100_000));
                else if (pick == 1) sb.Append(rng.Next(100)).Append('.').Append(rng.Next(10));
                else sb.Append(Sample(rng));
            }
            sb.Append(rng.Next(3) == 0 ? "." : "");
            texts[i] = sb.ToString();
        }
        return texts;
    }

    private string Sample(Random rng)
    {
        int r = Array.BinarySearch(_cumulative, rng.NextDouble());
        return _words[Math.Min(r < 0 ? ~r : r, _words.Length - 1)];
    }

    private static readonly string[] s_latinOnsets = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
        "ch", "sh", "th", "st", "br", "tr", "pl", "gr", "qu", "sp", "fl"];
    private static readonly string[] s_latinVowels = ["a", "e", "i", "o", "u", "ai", "ou", "ea", "ie", "y", "é", "ü", "ä", "ñ"];
    private static readonly string[] s_latinCodas = ["", "", "n", "r", "s", "t", "l", "m", "ng", "ck", "nd", "st"];
    private static readonly string[] s_cyrillic = ["ка", "ло", "ми", "ст", "ра", "но", "ве", "ть", "пр", "ий", "ых", "до", "жи", "ще", "бу"];
    private static readonly string[] s_greek = ["κα", "λο", "μι", "στ", "ρα", "νο", "πε", "τη", "ου", "ος"];
    private static readonly string[] s_arabic = ["ال", "مد", "كت", "سل", "ين", "ون", "رب", "ها", "قو", "في"];
    private static readonly string[] s_devanagari = ["क", "का", "कि", "न", "ना", "म", "मी", "र", "रा", "स", "से", "त", "ते", "प", "ह", "्य"];
    private static readonly string[] s_thai = ["ก", "การ", "ม", "มา", "ส", "สุ", "ที่", "ใน", "ไป", "ค", "ครั", "น"];

    private static string MakeWord(Random rng)
    {
        var sb = new StringBuilder();
        int script = rng.Next(100);
        int syllables = 1 + rng.Next(4);
        if (script < 60)
        {
            for (int k = 0; k < syllables; k++)
                sb.Append(s_latinOnsets[rng.Next(s_latinOnsets.Length)]).Append(s_latinVowels[rng.Next(s_latinVowels.Length)])
                    .Append(s_latinCodas[rng.Next(s_latinCodas.Length)]);
            if (rng.Next(5) == 0) sb[0] = char.ToUpperInvariant(sb[0]);
        }
        else if (script < 70) Syllables(sb, rng, s_cyrillic, syllables + 1);
        else if (script < 73) Syllables(sb, rng, s_greek, syllables + 1);
        else if (script < 78) for (int k = 0; k < syllables; k++) sb.Append((char)(0xAC00 + rng.Next(11_172)));  // Hangul syllables
        else if (script < 88) for (int k = 0; k < syllables; k++) sb.Append((char)(0x4E00 + rng.Next(0x9FA5 - 0x4E00)));  // CJK ideographs
        else if (script < 93) Syllables(sb, rng, s_arabic, syllables + 1);
        else if (script < 97) Syllables(sb, rng, s_devanagari, syllables + 1);
        else Syllables(sb, rng, s_thai, syllables + 1);
        return sb.ToString();
    }

    private static void Syllables(StringBuilder sb, Random rng, string[] parts, int count)
    {
        for (int k = 0; k < count; k++) sb.Append(parts[rng.Next(parts.Length)]);
    }
}
