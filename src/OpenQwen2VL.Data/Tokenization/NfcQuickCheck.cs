using ADRaffy.ENSNormalize;

namespace OpenQwen2VL.Data.Tokenization;

/// <summary>
/// Answers "is this text already in NFC?" without normalizing it: UAX #15's quick check, made conservative so that
/// it needs no Unicode data of its own. A text is NFC when every code point is NFC_Quick_Check=Yes and the canonical
/// combining classes of adjacent non-starters do not decrease; we accept only texts whose code points are "Yes"
/// and that have no two non-starters in a row, and send everything else (false) to the full normalization.
/// </summary>
/// <remarks>
/// Why: nearly all text is already NFC, yet every non-Latin text went through ENSNormalize's NFC, which allocates
/// and was the largest part of the cached encode (long-tail benchmark texts, Qwen's real vocabulary, 423k words,
/// Stopwatch split at load ~8 on 2 cores: NFC 179 ns per word of the whole cached encode's 434; with this check,
/// which accepts all 10k of those texts, 13-26 ns). ENSNormalize exposes no quick check (its tables are private).
/// The properties come from ENSNormalize itself (the normalizer we answer for), so the check and the normalization
/// cannot disagree on a Unicode version. Once per process every code point that decomposes is found (NFD of all code
/// points in blocks: 0.26 s at load 8.5, on top of ENSNormalize's own first use, 0.9 s); those whose NFC is not
/// themselves are "No", and every code point after the first in a decomposition counts as "Maybe" (a superset of the
/// real Maybe set: it could compose with what precedes it). Whether a code point is a non-starter (combining class
/// &gt; 0) is found on first sight, from whether NFD reorders it around U+0316 (class 220) and U+0301 (class 230).
/// </remarks>
internal static class NfcQuickCheck
{
    private const byte Unknown = 0, Starter = 1, NonStarter = 2, MayChange = 3;
    private const int CodePoints = 0x110000;

    /// <summary>Per code point, filled on first sight (a race writes the same value twice).</summary>
    private static readonly byte[] s_classes = new byte[CodePoints];

    /// <summary>Code points whose NFC_Quick_Check is No or (a superset of) Maybe.</summary>
    private static readonly HashSet<int> s_mayChange = FindCodePointsThatMayChange();

    /// <summary>True: <paramref name="text"/> is certainly NFC. False: it may not be (normalize it).</summary>
    public static bool IsNormalized(ReadOnlySpan<char> text)
    {
        bool previousNonStarter = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c < 0x80) { previousNonStarter = false; continue; }
            int codePoint = c;
            if (char.IsSurrogate(c))
            {
                // A lone surrogate is left to the normalizer, whatever it does with it.
                if (!char.IsHighSurrogate(c) || i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1])) return false;
                codePoint = char.ConvertToUtf32(c, text[++i]);
            }
            byte cls = s_classes[codePoint];
            if (cls == Unknown) s_classes[codePoint] = cls = Classify(codePoint);
            if (cls == MayChange) return false;
            if (cls == NonStarter)
            {
                if (previousNonStarter) return false;  // their order would need the combining classes themselves
                previousNonStarter = true;
            }
            else previousNonStarter = false;
        }
        return true;
    }

    /// <summary>The class the quick check gives one code point (for the tests: 1 starter, 2 non-starter, 3 may change).</summary>
    internal static byte Classify(int codePoint)
    {
        if (s_mayChange.Contains(codePoint)) return MayChange;
        var nf = ENSNormalize.NF;
        var decomposed = nf.NFD([codePoint]);
        if (decomposed.Count != 1 || decomposed[0] != codePoint)
            // A composite that NFC keeps: its combining class is its first part's (a starter for all of them).
            return decomposed[0] != codePoint && Classify(decomposed[0]) == Starter ? Starter : MayChange;
        const int Below = 0x0316, Above = 0x0301;  // combining classes 220 and 230
        bool reordered = nf.NFD([codePoint, Below]) is [var a, _] && a != codePoint  // class > 220
            || nf.NFD([Above, codePoint]) is [var b, _] && b != Above;            // 0 < class < 230
        return reordered ? NonStarter : Starter;
    }

    private static HashSet<int> FindCodePointsThatMayChange()
    {
        var nf = ENSNormalize.NF;
        var mayChange = new HashSet<int>();
        const int Block = 4096;
        var block = new List<int>(Block);
        for (int start = 0; start < CodePoints; start += Block)
        {
            block.Clear();
            for (int cp = start; cp < start + Block; cp++)
                if (cp is < 0xD800 or > 0xDFFF) block.Add(cp);
            // Without decompositions NFD only reorders: the block keeps its code points (a singleton like U+2126
            // OHM SIGN → U+03A9 keeps the length, not the code points).
            var normalized = nf.NFD(block);
            if (normalized.Count == block.Count)
            {
                normalized.Sort();
                if (normalized.SequenceEqual(block)) continue;
            }
            foreach (int cp in block)
            {
                var decomposed = nf.NFD([cp]);
                if (decomposed.Count == 1 && decomposed[0] == cp) continue;
                if (nf.NFC([cp]) is not [var composed] || composed != cp) mayChange.Add(cp);  // NFC_Quick_Check=No
                for (int k = 1; k < decomposed.Count; k++) mayChange.Add(decomposed[k]);
            }
        }
        return mayChange;
    }
}
