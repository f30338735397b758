using System.Text.Json;

namespace OpenQwen2VL.Data.Tokenization;

/// <summary>
/// The `model` of a byte-level BPE tokenizer.json: vocabulary, ranked merges, and the merge loop that turns
/// one word (already in the byte alphabet) into ids. Merges apply lowest rank first, leftmost first among
/// equal ranks, which is HF's priority-queue order and GPT-2's "merge the best pair everywhere" order.
/// </summary>
public sealed class BpeModel
{
    // Short words (nearly all of them) use a linear scan of cached pair ranks; long ones a heap, so a 100k-char run stays O(n log n).
    internal const int HeapThreshold = 48;

    /// <summary>
    /// Ids must lie in [0, MaxTokenId): the id table is allocated by the highest id, so a crafted id (2^31, or 2^30
    /// with one token) must not size it (2^22 ids = a 32 MiB table). 2^22 is over 25 times Qwen2's 151,646 and above every published vocabulary.
    /// </summary>
    public const int MaxTokenId = 1 << 22;

    private readonly Dictionary<PairKey, (int Rank, int NewId)> _merges;
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabBySpan;
    private readonly int _unkId;

    private BpeModel(Dictionary<string, int> vocab, List<(string A, string B)> merges, string? unkToken, bool ignoreMerges)
    {
        _vocab = vocab;
        _vocabBySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        MergeList = merges;
        IgnoreMerges = ignoreMerges;
        _unkId = unkToken is not null && vocab.TryGetValue(unkToken, out int u) ? u : -1;
        _merges = new Dictionary<PairKey, (int, int)>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (a, b) = merges[rank];
            if (!vocab.TryGetValue(a, out int ia) || !vocab.TryGetValue(b, out int ib))
                throw new InvalidDataException($"merge {rank} '{a} {b}' uses a token missing from the vocabulary");
            if (!vocab.TryGetValue(a + b, out int merged))
                throw new InvalidDataException($"merge {rank} '{a} {b}' produces '{a + b}', missing from the vocabulary");
            _merges[Key(ia, ib)] = (rank, merged);  // a duplicated pair keeps its last rank, as HF's map does
        }
        ByteIds = new int[256];
        for (int b = 0; b < 256; b++)
            ByteIds[b] = vocab.TryGetValue(ByteLevelAlphabet.ToChar((byte)b).ToString(), out int id) ? id : _unkId;
    }

    public IReadOnlyDictionary<string, int> Vocab => _vocab;
    public IReadOnlyList<(string A, string B)> MergeList { get; }
    public bool IgnoreMerges { get; }

    /// <summary>Id of the one-character token of each byte (or the unknown id, -1 when there is none).</summary>
    internal int[] ByteIds { get; }

    public static BpeModel FromJson(JsonElement model)
    {
        string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "BPE" : "BPE";
        if (type != "BPE") throw new NotSupportedException($"tokenizer model '{type}' is not supported (BPE only)");
        foreach (var unsupported in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (model.TryGetProperty(unsupported, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() != "")
                throw new NotSupportedException($"BPE '{unsupported}' is not supported (byte-level BPE has none)");
        if (model.TryGetProperty("dropout", out var d) && d.ValueKind == JsonValueKind.Number && d.GetDouble() > 0)
            throw new NotSupportedException("BPE dropout is a training-time option and is not supported");

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in model.GetProperty("vocab").EnumerateObject())
            vocab[p.Name] = p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out int id) && CheckId(id)
                ? id : throw new InvalidDataException($"vocab token '{p.Name}' has id {p.Value.GetRawText()}, expected an integer in [0, {MaxTokenId})");
        // Without a vocabulary every text would encode to nothing: captions would vanish instead of failing.
        if (vocab.Count == 0) throw new InvalidDataException("the vocabulary is empty");
        var merges = new List<(string, string)>();
        foreach (var m in model.GetProperty("merges").EnumerateArray())
        {
            if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
            {
                merges.Add((m[0].GetString()!, m[1].GetString()!));
                continue;
            }
            if (m.ValueKind != JsonValueKind.String) throw new InvalidDataException($"merge {merges.Count} is {m.GetRawText()}, expected \"a b\" or [\"a\", \"b\"]");
            string s = m.GetString()!;
            int space = s.IndexOf(' ', 1);  // legacy "a b" form; byte-level tokens never contain a space
            if (space < 0 || s.IndexOf(' ', space + 1) >= 0) throw new InvalidDataException($"bad merge entry '{s}'");
            merges.Add((s[..space], s[(space + 1)..]));
        }
        string? unk = model.TryGetProperty("unk_token", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
        bool ignoreMerges = model.TryGetProperty("ignore_merges", out var im) && im.ValueKind == JsonValueKind.True;
        var bpe = new BpeModel(vocab, merges, unk, ignoreMerges);
        if (bpe.ByteIds.All(id => id < 0))
            throw new InvalidDataException("the vocabulary has none of the 256 byte-level tokens and no unk_token: every text would encode to nothing");
        return bpe;
    }

    /// <summary>Whether <paramref name="id"/> is a usable token id (see <see cref="MaxTokenId"/>).</summary>
    public static bool CheckId(int id) => id is >= 0 and < MaxTokenId;

    private static PairKey Key(int a, int b) => new(a, b);

    /// <summary>
    /// A pair of adjacent token ids. Not a packed long: long's hash is hi ^ lo, so on a 151k vocabulary the merge pairs
    /// collide by the thousand (uncached encoding ran at 0.03 M tokens/s); a multiplicative mix spreads them.
    /// </summary>
    private readonly record struct PairKey(int Left, int Right)
    {
        public override int GetHashCode() => (int)((((ulong)(uint)Left << 32) | (uint)Right) * 0x9E3779B97F4A7C15UL >> 32);
    }

    /// <summary>Id of a byte-alphabet word, or -1 (for ignore_merges).</summary>
    internal int WholeWordId(ReadOnlySpan<char> byteLevelWord) => _vocabBySpan.TryGetValue(byteLevelWord, out int id) ? id : -1;

    /// <summary>Merges <paramref name="symbols"/> (initial byte ids, unknown ones already dropped) in place; returns the new count.</summary>
    internal int Merge(Span<int> symbols) =>
        symbols.Length <= HeapThreshold ? MergeWithRankArray(symbols) : MergeWithHeap(symbols);

    private bool TryGetMerge(int left, int right, out int rank, out int newId)
    {
        bool found = _merges.TryGetValue(new PairKey(left, right), out var m);
        (rank, newId) = found ? m : (int.MaxValue, 0);
        return found;
    }

    /// <summary>
    /// The textbook order for short words, with each adjacent pair's rank looked up once and kept in an array:
    /// after a merge only the two pairs that touch the new symbol are looked up again (the scan below looks up
    /// every pair on every round, n² lookups).
    /// </summary>
    internal int MergeWithRankArray(Span<int> s)
    {
        int n = s.Length;
        if (n < 2) return n;
        Span<int> ranks = stackalloc int[n - 1];
        Span<int> merged = stackalloc int[n - 1];
        for (int i = 0; i + 1 < n; i++) TryGetMerge(s[i], s[i + 1], out ranks[i], out merged[i]);
        while (n > 1)
        {
            int at = 0;
            for (int i = 1; i < n - 1; i++) if (ranks[i] < ranks[at]) at = i;  // first minimum = leftmost on ties
            if (ranks[at] == int.MaxValue) break;
            s[at] = merged[at];
            s[(at + 2)..n].CopyTo(s[(at + 1)..]);
            if (at + 2 < n)  // the pair right of the merged one goes; later pairs move down
            {
                ranks[(at + 2)..(n - 1)].CopyTo(ranks[(at + 1)..]);
                merged[(at + 2)..(n - 1)].CopyTo(merged[(at + 1)..]);
            }
            n--;
            if (at > 0) TryGetMerge(s[at - 1], s[at], out ranks[at - 1], out merged[at - 1]);
            if (at < n - 1) TryGetMerge(s[at], s[at + 1], out ranks[at], out merged[at]);
        }
        return n;
    }

    /// <summary>Textbook BPE: repeatedly merge the lowest-ranked adjacent pair (leftmost on ties). The reference of the tests.</summary>
    internal int MergeByScan(Span<int> s)
    {
        int n = s.Length;
        while (n > 1)
        {
            int bestRank = int.MaxValue, bestAt = -1, bestId = 0;
            for (int i = 0; i + 1 < n; i++)
                if (_merges.TryGetValue(Key(s[i], s[i + 1]), out var m) && m.Rank < bestRank)
                    (bestRank, bestAt, bestId) = (m.Rank, i, m.NewId);
            if (bestAt < 0) break;
            s[bestAt] = bestId;
            s[(bestAt + 2)..n].CopyTo(s[(bestAt + 1)..]);
            n--;
        }
        return n;
    }

    /// <summary>Same merges via a priority queue of (rank, position) over a linked list of symbols (HF's algorithm).</summary>
    internal int MergeWithHeap(Span<int> s)
    {
        int n = s.Length;
        var prev = new int[n];
        var next = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++) { prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; alive[i] = true; }
        var queue = new PriorityQueue<(int Pos, int NewId), (int Rank, int Pos)>();
        for (int i = 0; i + 1 < n; i++)
            if (_merges.TryGetValue(Key(s[i], s[i + 1]), out var m)) queue.Enqueue((i, m.NewId), (m.Rank, i));
        while (queue.TryDequeue(out var top, out _))
        {
            int left = top.Pos, right = next[left];
            if (!alive[left] || right < 0) continue;
            // Entries go stale when a neighbour merged first: only act if this pair still makes that token.
            if (!_merges.TryGetValue(Key(s[left], s[right]), out var cur) || cur.NewId != top.NewId) continue;
            s[left] = top.NewId;
            alive[right] = false;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            if (prev[left] >= 0 && _merges.TryGetValue(Key(s[prev[left]], s[left]), out var pm))
                queue.Enqueue((prev[left], pm.NewId), (pm.Rank, prev[left]));
            if (next[left] >= 0 && _merges.TryGetValue(Key(s[left], s[next[left]]), out var nm))
                queue.Enqueue((left, nm.NewId), (nm.Rank, left));
        }
        int count = 0;
        for (int i = 0; i >= 0 && i < n; i = next[i]) s[count++] = s[i];
        return count;
    }
}
