namespace OpenQwen2VL.Data.Prompts;

/// <summary>
/// Splits an annotation file into raw records without parsing them: the elements of a top-level JSON array, or the
/// lines of a JSONL file. Only strings and brackets are tracked, so a record of any size is found in constant memory;
/// one longer than the cap is skipped over (<see cref="RecordTooLong"/>) and its bytes are never held. Each record is
/// parsed on its own afterwards, so a bad element costs that element; damage to the array's own structure (a stray
/// bracket, a cut file) ends the file with one <see cref="MalformedJson"/>, keeping the records before it.
/// </summary>
internal sealed class JsonRecordSplitter
{
    public const string MalformedJson = "malformed_json";
    /// <summary>A record whose bytes are not valid UTF-8 (JSON text must be).</summary>
    public const string InvalidUtf8 = "invalid_utf8";
    public const string RecordTooLong = "record_too_long";

    /// <summary>A record's bytes, or the reason it has none.</summary>
    public readonly record struct RawRecord(byte[]? Bytes, string? Error);

    private const int Eof = -1;
    private readonly Stream _stream;
    private readonly int _maxRecordBytes;
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _length, _position;
    private byte[] _record = new byte[256];
    private int _recordLength;
    private bool _overflow;

    private JsonRecordSplitter(Stream stream, int maxRecordBytes)
    {
        _stream = stream;
        _maxRecordBytes = maxRecordBytes;
    }

    public static IEnumerable<RawRecord> Split(Stream stream, int maxRecordBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRecordBytes);
        var splitter = new JsonRecordSplitter(stream, maxRecordBytes);
        splitter.SkipBom();
        int first = splitter.SkipWhitespace();
        if (first == Eof) return [];
        if (first == '[') return splitter.ArrayElements();
        splitter._position--; // the first line starts with this byte
        return splitter.Lines();
    }

    private IEnumerable<RawRecord> ArrayElements()
    {
        bool first = true;
        while (true)
        {
            int b = SkipWhitespace();
            if (b == ']' && first)
            {
                if (SkipWhitespace() != Eof) yield return new(null, MalformedJson);
                yield break;
            }
            int end = ScanElement(b);
            if (end is not (',' or ']'))
            {
                yield return new(null, MalformedJson); // cut inside the array or broken brackets: no resync
                yield break;
            }
            yield return TakeRecord();
            if (end == ']')
            {
                if (SkipWhitespace() != Eof) yield return new(null, MalformedJson);
                yield break;
            }
            first = false;
        }
    }

    /// <summary>Scans one element starting with <paramref name="b"/>; returns the ',' or ']' after it, or EOF / 0 on damage.</summary>
    private int ScanElement(int b)
    {
        BeginRecord();
        int depth = 0;
        bool inString = false, escape = false, started = false;
        for (; b != Eof; b = Next())
        {
            if (inString)
            {
                if (escape) escape = false;
                else if (b == '\\') escape = true;
                else if (b == '"') inString = false;
                Append((byte)b);
                continue;
            }
            if (depth == 0 && b is ',' or ']') return started ? b : 0;
            switch (b)
            {
                case '"': inString = true; break;
                case '{' or '[': depth++; break;
                case '}' or ']':
                    if (--depth < 0) return 0;
                    break;
            }
            Append((byte)b);
            started = true;
        }
        return Eof;
    }

    private IEnumerable<RawRecord> Lines()
    {
        while (true)
        {
            BeginRecord();
            int b;
            bool any = false;
            while ((b = Next()) is not (Eof or '\n'))
            {
                Append((byte)b);
                any = true;
            }
            if (!any && b == Eof) yield break;
            if (_overflow) yield return new(null, RecordTooLong);
            else if (_record.AsSpan(0, _recordLength).ContainsAnyExcept((byte)' ', (byte)'\t', (byte)'\r')) yield return TakeRecord();
            if (b == Eof) yield break;
        }
    }

    private void BeginRecord()
    {
        _recordLength = 0;
        _overflow = false;
    }

    private void Append(byte b)
    {
        if (_overflow) return;
        if (_recordLength == _maxRecordBytes)
        {
            _overflow = true;
            return;
        }
        if (_recordLength == _record.Length) Array.Resize(ref _record, (int)Math.Min(_maxRecordBytes, 2L * _record.Length));
        _record[_recordLength++] = b;
    }

    private RawRecord TakeRecord() => _overflow ? new(null, RecordTooLong) : new(_record.AsSpan(0, _recordLength).ToArray(), null);

    private void SkipBom()
    {
        _length = _stream.ReadAtLeast(_buffer, 3, throwOnEndOfStream: false);
        _position = _length >= 3 && _buffer[0] == 0xEF && _buffer[1] == 0xBB && _buffer[2] == 0xBF ? 3 : 0;
    }

    private int SkipWhitespace()
    {
        int b;
        do b = Next(); while (b is ' ' or '\t' or '\r' or '\n');
        return b;
    }

    private int Next()
    {
        if (_position == _length)
        {
            _length = _stream.Read(_buffer, 0, _buffer.Length);
            _position = 0;
            if (_length == 0) return Eof;
        }
        return _buffer[_position++];
    }
}
