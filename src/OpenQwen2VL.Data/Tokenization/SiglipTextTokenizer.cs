using System.Buffers;
using Google.Protobuf;
using Microsoft.ML.Tokenizers;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Text;

namespace OpenQwen2VL.Data.Tokenization;

/// <summary>
/// The text side of a published SigLIP checkpoint: its SentencePiece Unigram model (<c>spiece.model</c>) used the way
/// HF transformers' SiglipTokenizer is used by a SigLIP processor with <c>padding="max_length", max_length=64,
/// truncation=True</c>. SigLIP was trained on max-length-padded text and its text tower pools the last position, so
/// the padding is part of the model's input. Steps, each as that class does it:
/// <list type="number">
/// <item>"▁" + text with every "▁" made a space; Python's <c>str.lower()</c>;</item>
/// <item>split on the literal special tokens "&lt;/s&gt;" and "&lt;unk&gt;", stripping whitespace on both sides;</item>
/// <item>each other chunk: ASCII punctuation removed, whitespace runs collapsed, stripped; encoded with the model's
/// <c>add_dummy_prefix</c> off, behind an "&lt;unk&gt;" prefix whose pieces are then dropped;</item>
/// <item>a leading "▁" piece dropped when a special token follows; truncated to max - 1; "&lt;/s&gt;" appended unless
/// the last id is already "&lt;/s&gt;"; padded with the pad id ("&lt;/s&gt;") to the maximum.</item>
/// </list>
/// The SentencePiece model itself runs on Microsoft.ML.Tokenizers, with one correction measured against Python's
/// sentencepiece 0.1.97 (tests/Fixtures/siglip-tokenizer: 550 texts, canonicalisation cases and digit runs included; and 3,000 digit-heavy texts on
/// another 4,000-piece model: all equal once that is done): it gives one
/// unknown id per unknown character where sentencepiece merges a run of them into one piece, so runs are merged here.
/// </summary>
public sealed class SiglipTextTokenizer
{
    public const int DefaultMaxLength = 64;
    private const string Underline = "\u2581";
    private const long MaxModelBytes = 64L << 20;   // the published spiece.model is under 1 MB
    private static readonly string[] Specials = ["</s>", "<unk>"];

    private readonly SentencePieceTokenizer _model;
    private readonly int _unknownPrefixPieces;
    private readonly int _underlineId;

    public int EndOfSentenceId { get; }
    public int UnknownId { get; }
    /// <summary>SigLIP pads with "&lt;/s&gt;".</summary>
    public int PadId => EndOfSentenceId;
    public int VocabularySize { get; }

    private SiglipTextTokenizer(SentencePieceTokenizer model)
    {
        _model = model;
        EndOfSentenceId = model.EndOfSentenceId;
        UnknownId = model.UnknownId;
        VocabularySize = model.Vocabulary.Count;
        _underlineId = model.Vocabulary.TryGetValue(Underline, out int u) ? u : -1;
        _unknownPrefixPieces = Pieces("<unk>").Count;
    }

    /// <summary>Loads <c>spiece.model</c>; a file that is not a SentencePiece Unigram model is one-line bad input.</summary>
    public static SiglipTextTokenizer Load(string spieceModelPath)
    {
        byte[] bytes;
        using (var stream = RegularFile.OpenRead(spieceModelPath, "SentencePiece model"))
        {
            if (stream.Length > MaxModelBytes)
                throw new InvalidDataException($"{spieceModelPath}: {stream.Length:N0} bytes is not a SentencePiece model (limit {MaxModelBytes:N0})");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        return FromBytes(bytes, spieceModelPath);
    }

    public static SiglipTextTokenizer FromBytes(ReadOnlySpan<byte> model, string source)
    {
        // Protobuf merges a repeated embedded-message field into the first, so fields can be overridden by appending:
        // - HF merges NormalizerSpec { add_dummy_prefix: false } into the model: field 3 (normalizer_spec) holding
        //   field 3 (add_dummy_prefix) = 0;
        // - Microsoft.ML.Tokenizers 2.0.1 fails to load a Unigram model without a BOS piece (bos_id -1, as in SigLIP's
        //   T5-style spiece.model: IndexOutOfRangeException, measured). BOS is never emitted here, so field 2
        //   (trainer_spec) gets field 41 (bos_id) pointing at the unknown piece, which the model has anyway.
        byte[] patched;
        try
        {
            using var buffer = new MemoryStream(model.Length + 16);
            buffer.Write(model);
            var output = new CodedOutputStream(buffer, leaveOpen: true);
            output.WriteTag(3, WireFormat.WireType.LengthDelimited);
            output.WriteLength(2);
            output.WriteTag(3, WireFormat.WireType.Varint);
            output.WriteBool(false);
            int unknownId = UnknownPieceId(model.ToArray(), source);
            output.WriteTag(2, WireFormat.WireType.LengthDelimited);
            output.WriteLength(CodedOutputStream.ComputeTagSize(41) + CodedOutputStream.ComputeInt32Size(unknownId));
            output.WriteTag(41, WireFormat.WireType.Varint);
            output.WriteInt32(unknownId);
            output.Flush();
            patched = buffer.ToArray();
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{source}: not a SentencePiece model ({e.Message})", e);
        }
        SentencePieceTokenizer sp;
        try
        {
            using var ms = new MemoryStream(patched, writable: false);
            sp = SentencePieceTokenizer.Create(ms, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{source}: not a SentencePiece model ({e.GetType().Name}: {e.Message})", e);
        }
        if (sp.EndOfSentenceId < 0 || sp.UnknownId < 0)
            throw new InvalidDataException($"{source}: the SentencePiece model has no </s> or <unk> piece, which SigLIP needs");
        return new SiglipTextTokenizer(sp);
    }

    /// <summary>Index of the first piece of type UNKNOWN (ModelProto field 1: SentencePiece { 1 piece, 2 score, 3 type }).</summary>
    private static int UnknownPieceId(byte[] model, string source)
    {
        const int unknownType = 2;
        var input = new CodedInputStream(model);
        int index = 0;
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            if (WireFormat.GetTagFieldNumber(tag) != 1 || WireFormat.GetTagWireType(tag) != WireFormat.WireType.LengthDelimited)
            {
                input.SkipLastField();
                continue;
            }
            var piece = new CodedInputStream(input.ReadBytes().ToByteArray());
            int type = 1;   // NORMAL
            for (uint t; (t = piece.ReadTag()) != 0;)
            {
                if (WireFormat.GetTagFieldNumber(t) == 3 && WireFormat.GetTagWireType(t) == WireFormat.WireType.Varint) type = piece.ReadInt32();
                else piece.SkipLastField();
            }
            if (type == unknownType) return index;
            index++;
        }
        throw new InvalidDataException($"{source}: the SentencePiece model has no <unk> piece");
    }

    /// <summary>The ids the SigLIP text tower takes: exactly <paramref name="maxLength"/> of them.</summary>
    public int[] Encode(string text, int maxLength = DefaultMaxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        var ids = new List<int>();
        bool leadingUnderlineThenSpecial = false;
        foreach (var (chunk, special) in Chunks(PythonString.Lower(Underline + text.Replace(Underline, " "))))
        {
            if (special)
            {
                leadingUnderlineThenSpecial |= ids.Count == 1 && ids[0] == _underlineId;
                ids.Add(chunk == "</s>" ? EndOfSentenceId : UnknownId);
                continue;
            }
            var canonical = PythonString.Strip(PythonString.CollapseSpaces(RemoveAsciiPunctuation(chunk)));
            var pieces = Pieces("<unk>" + canonical);
            ids.AddRange(pieces.Count >= _unknownPrefixPieces ? pieces.Skip(_unknownPrefixPieces) : pieces);
        }
        if (leadingUnderlineThenSpecial) ids.RemoveAt(0);
        if (ids.Count > maxLength - 1) ids.RemoveRange(maxLength - 1, ids.Count - (maxLength - 1));
        if (ids.Count == 0 || ids[^1] != EndOfSentenceId) ids.Add(EndOfSentenceId);
        var padded = new int[maxLength];
        Array.Fill(padded, PadId);
        ids.CopyTo(0, padded, 0, ids.Count);
        return padded;
    }

    /// <summary>
    /// Splits on the literal special tokens, stripping whitespace on both sides of each (they are added tokens with
    /// lstrip and rstrip); empty text chunks are dropped.
    /// </summary>
    private static IEnumerable<(string Chunk, bool Special)> Chunks(string text)
    {
        var parts = new List<string>();   // text, special, text, special, ..., text
        int start = 0;
        for (int i = 0; i < text.Length;)
        {
            string? special = Array.Find(Specials, s => string.CompareOrdinal(text, i, s, 0, s.Length) == 0);
            if (special is null) { i++; continue; }
            parts.Add(text[start..i]);
            parts.Add(special);
            i += special.Length;
            start = i;
        }
        parts.Add(text[start..]);
        for (int k = 1; k < parts.Count; k += 2)
        {
            parts[k - 1] = PythonString.RStrip(parts[k - 1]);
            parts[k + 1] = PythonString.LStrip(parts[k + 1]);
        }
        for (int k = 0; k < parts.Count; k++)
            if (k % 2 == 1 || parts[k].Length > 0) yield return (parts[k], k % 2 == 1);
    }

    private static readonly SearchValues<char> AsciiPunctuation = SearchValues.Create("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");

    /// <summary>Python's <c>text.translate(str.maketrans("", "", string.punctuation))</c>.</summary>
    private static string RemoveAsciiPunctuation(string s)
    {
        if (s.AsSpan().IndexOfAny(AsciiPunctuation) < 0) return s;
        var sb = new System.Text.StringBuilder(s.Length);
        foreach (char c in s) if (!AsciiPunctuation.Contains(c)) sb.Append(c);
        return sb.ToString();
    }

    /// <summary>SentencePiece ids of <paramref name="text"/>, runs of unknown pieces merged into one as sentencepiece does.</summary>
    private List<int> Pieces(string text)
    {
        var raw = _model.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false);
        var ids = new List<int>(raw.Count);
        foreach (int id in raw)
        {
            if (id == UnknownId && ids.Count > 0 && ids[^1] == UnknownId) continue;
            ids.Add(id);
        }
        return ids;
    }
}
