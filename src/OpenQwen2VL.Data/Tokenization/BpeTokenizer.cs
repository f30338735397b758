using OpenQwen2VL.Data.Formats;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace OpenQwen2VL.Data.Tokenization;

/// <summary>
/// Byte-level BPE tokenizer loaded from a HF tokenizer.json (Qwen2/Qwen2.5 layout: NFC, the Qwen2 split regex,
/// ByteLevel pre-tokenizer and decoder, added/special tokens). Encode is thread-safe and caches words (bounded).
/// Equivalent to HF `encode(text, add_special_tokens=False)`: the post-processor is never applied, since
/// the prompt formats place every special token themselves (for Qwen2 the two are identical).
/// </summary>
/// <remarks>
/// Why our own rather than a library (all three were tried on the fixture tokenizer; speed from
/// `dotnet run -c Release --project bench/OpenQwen2VL.Benchmarks -- tokenizer`, 5000 captions, 1 thread,
/// on the shared 2-core dev machine, best of 5 interleaved rounds):
/// - Tokenizers.DotNet 1.4.1 (HF's Rust tokenizers behind FFI) is the reference itself, so we use it as the
///   oracle of our differential test; but its Decode always drops special tokens (2 of the 8 fixture decodes
///   fail), it cannot add tokens at run time (the trainer adds `&lt;|endofchunk|&gt;` and `&lt;s&gt;`), and per
///   caption it was 7-11x slower than ours (0.12-0.42 M tokens/s: marshalling dominates short texts).
/// - Microsoft.ML.Tokenizers 2.0.1 BpeTokenizer (same vocab, merges, added tokens and Qwen2 regex) passes the
///   8 fixture cases and is as fast as ours (0.9-1.0x, about 1.2-2.9 M tokens/s under varying load), but has no
///   NFC step and runs the regex per UTF-16 unit: on random hard texts 1076 of 3000 disagreed with HF
///   (21 without composable characters: astral letters, text next to special tokens).
/// Ours: identical to HF on the fixtures and on the random differential corpus, 1.4-2.6 M tokens/s with the
/// word cache (0.8-1.2 M without), thread-safe, and supports adding special tokens.
/// On Qwen's real 151,669-token vocabulary (same benchmark, --quick, load average 40-50 on the 2 cores, so only the
/// ratios within one run mean much): without the word cache we ran at 0.04 M tokens/s (0.13x HF) because the merge
/// table's long keys hashed as hi ^ lo and collided; with a mixed pair hash, pair ranks kept in an array and no
/// allocation per word, 0.79 M on captions (4.5x HF) and 0.56 M on long-tail texts (Zipf over 200k words: 2.2x HF);
/// with the cache 1.4 M (8x HF) on captions, 0.80 M at a 97% hit rate on the long tail. The pre-tokenizer (NFC and
/// the compiled split regex) alone runs at 1.9 M tokens/s there: most of the cached path's time.
/// Since then the pre-tokenizer skips NFC for text that is NFC already (<see cref="NfcQuickCheck"/>: it was 179 of the
/// cached path's 434 ns per long-tail word), splits with <see cref="Qwen2SplitScanner"/> instead of the regex, and the
/// word cache is a flat <see cref="WordIdCache"/> instead of a ConcurrentDictionary. Same benchmark, full run, this
/// version then main one after the other at load 8-13 and 6-8 on the 2 cores (ratios to HF's Rust in the same run):
/// captions with the cache 6.5 → 23.6 M tokens/s (6.8x → 20.6x HF), without 3.0 → 6.4 M (3.1x → 5.6x); long tail with
/// the cache (97.5% hits) 4.3 → 14.4 M (2.7x → 7.1x), without 3.1 → 3.6 M (1.9x → 1.8x: HF's own rate moved 25%
/// between the runs); the split alone 29.7 M (regex) → 107 M (scanner). What remains of the cached long tail is mostly
/// the 2.5% of words that miss (rare and long: 2.2 µs each in the BPE merge).
/// </remarks>
public sealed class BpeTokenizer : ITextTokenizer
{
    public const int DefaultWordCacheCapacity = 100_000;

    /// <summary>Largest tokenizer.json read (Qwen2's is 7 MB; the largest published ones are tens of MB).</summary>
    public const long MaxFileBytes = 512L << 20;

    private readonly BpeModel _model;
    private readonly TextNormalizer _normalizer;
    private readonly PreTokenizer _preTokenizer;
    private readonly bool _byteLevelDecoder;
    private readonly string?[] _vocabById;
    private readonly object _addLock = new();
    private volatile AddedVocabulary _added;
    private string? _fingerprint;

    private readonly WordIdCache? _wordCache;  // null: no cache
    private readonly int _wordCacheCapacity;
    private long _wordCacheHits, _wordCacheMisses;

    private BpeTokenizer(BpeModel model, TextNormalizer normalizer, PreTokenizer preTokenizer, bool byteLevelDecoder,
        IEnumerable<AddedToken> added, int wordCacheCapacity)
    {
        _model = model;
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _byteLevelDecoder = byteLevelDecoder;
        int maxId = model.Vocab.Count == 0 ? -1 : model.Vocab.Values.Max();
        _vocabById = new string?[maxId + 1];
        foreach (var (token, id) in model.Vocab) _vocabById[id] = token;
        _added = new AddedVocabulary([.. added]);
        _wordCache = wordCacheCapacity > 0 ? new WordIdCache(wordCacheCapacity) : null;
        _wordCacheCapacity = wordCacheCapacity;
    }

    /// <summary>Loads a HF tokenizer.json (or the tokenizer.json inside a model folder).</summary>
    public static BpeTokenizer Load(string tokenizerJsonPath) => Load(tokenizerJsonPath, DefaultWordCacheCapacity);

    /// <param name="wordCacheCapacity">most distinct words whose ids are cached (0 disables the cache)</param>
    public static BpeTokenizer Load(string tokenizerJsonPath, int wordCacheCapacity) =>
        Load(tokenizerJsonPath, wordCacheCapacity, SplitPattern.DefaultMatchTimeout);

    /// <param name="regexTimeout">how long one pre-tokenizer regex may run on one text (see <see cref="SplitPattern"/>)</param>
    /// <exception cref="InvalidDataException">one line naming the file and what is wrong with it</exception>
    public static BpeTokenizer Load(string tokenizerJsonPath, int wordCacheCapacity, TimeSpan regexTimeout)
    {
        string path = Directory.Exists(tokenizerJsonPath) ? Path.Combine(tokenizerJsonPath, "tokenizer.json") : tokenizerJsonPath;
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer.json not found: {path}", path);
        try
        {
            return Parse(path, wordCacheCapacity, regexTimeout);
        }
        // Whatever the JSON holds (wrong kinds, missing keys, unsupported parts), the user sees the file and the problem.
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException
            or NotSupportedException or InvalidDataException or ArgumentException or IndexOutOfRangeException)
        {
            string problem = e is KeyNotFoundException ? "a required key is missing" : e.Message.Split('\n')[0];
            throw new InvalidDataException($"tokenizer {path}: {problem}", e);
        }
    }

    private static BpeTokenizer Parse(string path, int wordCacheCapacity, TimeSpan regexTimeout)
    {
        // Size checked on the opened file (a hub snapshot's symlink is measured at its target; a FIFO is refused).
        using var doc = JsonDocument.Parse(BoundedFile.ReadAllBytes(path, MaxFileBytes, "a tokenizer.json"));
        var root = doc.RootElement;
        var model = BpeModel.FromJson(root.GetProperty("model"));
        var normalizer = TextNormalizer.FromJson(root.TryGetProperty("normalizer", out var n) ? n : default);
        var pre = PreTokenizer.FromJson(root.TryGetProperty("pre_tokenizer", out var p) ? p : default, regexTimeout);
        if (!pre.HasByteLevel) throw new NotSupportedException($"{path}: only byte-level BPE is supported (no ByteLevel pre-tokenizer)");
        bool byteLevelDecoder = false;
        if (root.TryGetProperty("decoder", out var d) && d.ValueKind == JsonValueKind.Object)
        {
            string type = d.GetProperty("type").GetString() ?? "";
            if (type != "ByteLevel") throw new NotSupportedException($"{path}: decoder '{type}' is not supported (ByteLevel or null)");
            byteLevelDecoder = true;
        }
        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var at) && at.ValueKind == JsonValueKind.Array)
            foreach (var a in at.EnumerateArray())
            {
                var idElement = a.GetProperty("id");
                int id = idElement.ValueKind == JsonValueKind.Number && idElement.TryGetInt32(out int i) && BpeModel.CheckId(i)
                    ? i : throw new InvalidDataException($"added token has id {idElement.GetRawText()}, expected an integer in [0, {BpeModel.MaxTokenId})");
                string content = a.GetProperty("content").GetString() is { Length: > 0 } c ? c : throw new InvalidDataException($"added token {id} has no content");
                added.Add(new AddedToken(id, content, Flag(a, "special"), Flag(a, "lstrip"), Flag(a, "rstrip"), Flag(a, "single_word")));
            }
        return new BpeTokenizer(model, normalizer, pre, byteLevelDecoder, added, wordCacheCapacity);

        static bool Flag(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
    }

    internal BpeModel Model => _model;

    /// <summary>Number of ids: highest id of the vocabulary or the added tokens, plus one.</summary>
    public int VocabSize => Math.Max(_vocabById.Length, _added.MaxId + 1);

    /// <summary>Special added tokens by content.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens => _added.Special;

    /// <summary>All added tokens (special or not), in id order.</summary>
    public IReadOnlyList<AddedToken> AddedTokens => _added.Tokens;

    public bool IsSpecial(int id) => _added.ById.TryGetValue(id, out var t) && t.Special;

    public int? TokenToId(string token) =>
        _added.ByContent.TryGetValue(token, out var t) ? t.Id : _model.Vocab.TryGetValue(token, out int id) ? id : null;

    public string? IdToToken(int id) =>
        _added.ById.TryGetValue(id, out var t) ? t.Content : (uint)id < (uint)_vocabById.Length ? _vocabById[id] : null;

    /// <summary>Id of a token that must exist (e.g. `&lt;|im_end|&gt;`), with a clear error otherwise.</summary>
    public int RequireId(string token) =>
        TokenToId(token) ?? throw new InvalidDataException($"tokenizer has no token '{token}'");

    /// <summary>
    /// Adds special tokens (as HF add_special_tokens): a token already added keeps its id, a vocabulary token
    /// becomes matchable literally with its id, a new one gets the next free id. Returns the ids in order.
    /// Safe while other threads encode (they see the old or the new set); changes <see cref="Fingerprint"/>.
    /// </summary>
    public int[] AddSpecialTokens(params string[] tokens)
    {
        lock (_addLock)
        {
            var list = _added.Tokens.ToList();
            var ids = new int[tokens.Length];
            for (int k = 0; k < tokens.Length; k++)
            {
                string content = tokens[k];
                if (string.IsNullOrEmpty(content)) throw new ArgumentException("empty token", nameof(tokens));
                int i = list.FindIndex(t => t.Content == content);
                if (i >= 0)
                {
                    if (!list[i].Special) list[i] = list[i] with { Special = true };
                    ids[k] = list[i].Id;
                    continue;
                }
                int id = _model.Vocab.TryGetValue(content, out int v) ? v : Math.Max(_vocabById.Length, list.Count == 0 ? 0 : list.Max(t => t.Id) + 1);
                list.Add(new AddedToken(id, content, Special: true));
                ids[k] = id;
            }
            _added = new AddedVocabulary(list);
            _fingerprint = null;
            return ids;
        }
    }

    [ThreadStatic] private static List<AddedTokenSplitter.Piece>? t_pieces;
    [ThreadStatic] private static List<ReadOnlyMemory<char>>? t_words;

    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeInto(text, ids);
        return [.. ids];
    }

    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="ids"/>.</summary>
    public void EncodeInto(string text, List<int> ids)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = t_pieces ??= [];
        pieces.Clear();
        _added.Splitter.Split(text, pieces);
        int hits = 0, words = 0;
        foreach (var piece in pieces)  // EncodeSegment uses other scratch lists, so this one stays intact
        {
            if (piece.IsToken) { ids.Add(piece.TokenId); continue; }
            string segment = piece.Start == 0 && piece.Length == text.Length ? text : text.Substring(piece.Start, piece.Length);
            EncodeSegment(segment, ids, ref hits, ref words);
        }
        // Counted once per text, not per word: one interlocked add per word would cost more than a cached word.
        if (hits > 0) Interlocked.Add(ref _wordCacheHits, hits);
        if (words > hits) Interlocked.Add(ref _wordCacheMisses, words - hits);
    }

    /// <summary>The word cache's fill and its hits and misses so far (all threads).</summary>
    public WordCacheStatistics WordCache =>
        new(_wordCache?.Count ?? 0, _wordCacheCapacity, Interlocked.Read(ref _wordCacheHits), Interlocked.Read(ref _wordCacheMisses));

    private void EncodeSegment(string segment, List<int> ids, ref int hits, ref int count)
    {
        var words = t_words ??= [];
        words.Clear();
        _preTokenizer.Split(_normalizer.Normalize(segment), words);
        count += words.Count;
        foreach (var w in words)
            if (EncodeWord(w.Span, ids)) hits++;
    }

    /// <summary>Appends the ids of one pre-tokenized word; returns whether they came from the word cache.</summary>
    private bool EncodeWord(ReadOnlySpan<char> word, List<int> ids)
    {
        var cache = _wordCache;
        if (cache is null) { EncodeWordUncached(word, ids); return false; }
        if (cache.TryAppend(word, ids)) return true;
        int start = ids.Count;
        EncodeWordUncached(word, ids);
        cache.TryAdd(word, CollectionsMarshal.AsSpan(ids)[start..]);
        return false;
    }

    /// <summary>
    /// Appends the BPE of one pre-tokenized word: UTF-8 bytes → byte-alphabet symbols → merges. Words up to 256 bytes
    /// (nearly all) work in stack memory: nothing is allocated per word unless the word cache keeps it.
    /// </summary>
    internal void EncodeWordUncached(ReadOnlySpan<char> word, List<int> ids)
    {
        const int StackBytes = 256;
        int byteCount = Encoding.UTF8.GetByteCount(word);
        Span<byte> bytes = byteCount <= StackBytes ? stackalloc byte[StackBytes] : new byte[byteCount];
        bytes = bytes[..byteCount];
        Encoding.UTF8.GetBytes(word, bytes);
        if (_model.IgnoreMerges)
        {
            Span<char> mapped = byteCount <= StackBytes ? stackalloc char[StackBytes] : new char[byteCount];
            mapped = mapped[..byteCount];
            for (int i = 0; i < byteCount; i++) mapped[i] = ByteLevelAlphabet.ToChar(bytes[i]);
            int whole = _model.WholeWordId(mapped);
            if (whole >= 0) { ids.Add(whole); return; }
        }
        Span<int> symbols = byteCount <= StackBytes ? stackalloc int[StackBytes] : new int[byteCount];
        int n = 0;
        var byteIds = _model.ByteIds;
        foreach (byte b in bytes)
            if (byteIds[b] >= 0) symbols[n++] = byteIds[b];  // no such byte token and no unk: dropped, as HF does
        n = _model.Merge(symbols[..n]);
        ids.AddRange(symbols[..n]);
    }

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var added = _added;
        var bytes = new List<byte>(ids.Length * 4);
        var plain = new List<string>();
        Span<byte> utf8 = stackalloc byte[4];
        foreach (int id in ids)
        {
            string? token;
            if (added.ById.TryGetValue(id, out var a)) { if (skipSpecial && a.Special) continue; token = a.Content; }
            else token = (uint)id < (uint)_vocabById.Length ? _vocabById[id] : null;
            if (token is null) continue;  // unknown ids are skipped, as HF does
            if (!_byteLevelDecoder) { plain.Add(token); continue; }
            // Byte-alphabet tokens become their bytes; a token with any other character (an added token
            // written in plain text) contributes its own UTF-8, as HF's ByteLevel decoder does.
            bool allMapped = true;
            foreach (char c in token) if (ByteLevelAlphabet.ToByte(c) < 0) { allMapped = false; break; }
            if (allMapped) foreach (char c in token) bytes.Add((byte)ByteLevelAlphabet.ToByte(c));
            else bytes.AddRange(Encoding.UTF8.GetBytes(token));
        }
        return _byteLevelDecoder ? Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes)) : string.Join(' ', plain);
    }

    /// <summary>SHA-256 (hex) of the vocabulary by id, the merges in rank order, and the added tokens by id.</summary>
    public string Fingerprint => _fingerprint ??= ComputeFingerprint();

    private string ComputeFingerprint()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Line(string s) => sha.AppendData(Encoding.UTF8.GetBytes(s + "\n"));
        Line("vocab");
        for (int id = 0; id < _vocabById.Length; id++) if (_vocabById[id] is string t) Line($"{id}\t{t}");
        Line("merges");
        foreach (var (a, b) in _model.MergeList) Line($"{a}\t{b}");
        Line("added");
        foreach (var t in _added.Tokens) Line($"{t.Id}\t{t.Content}\t{(t.Special ? 1 : 0)}");
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>An immutable snapshot of the added tokens, swapped whole by <see cref="AddSpecialTokens"/>.</summary>
    private sealed class AddedVocabulary
    {
        public AddedVocabulary(List<AddedToken> tokens)
        {
            Tokens = [.. tokens.OrderBy(t => t.Id)];
            ById = Tokens.GroupBy(t => t.Id).ToDictionary(g => g.Key, g => g.Last());
            ByContent = Tokens.GroupBy(t => t.Content).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
            Special = Tokens.Where(t => t.Special).GroupBy(t => t.Content).ToDictionary(g => g.Key, g => g.Last().Id, StringComparer.Ordinal);
            Splitter = new AddedTokenSplitter(ByContent.Values);
            MaxId = Tokens.Count == 0 ? -1 : Tokens.Max(t => t.Id);
        }

        public IReadOnlyList<AddedToken> Tokens { get; }
        public Dictionary<int, AddedToken> ById { get; }
        public Dictionary<string, AddedToken> ByContent { get; }
        public Dictionary<string, int> Special { get; }
        public AddedTokenSplitter Splitter { get; }
        public int MaxId { get; }
    }
}
