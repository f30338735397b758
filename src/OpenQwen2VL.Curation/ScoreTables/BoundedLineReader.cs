using System.Text;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Curation.ScoreTables;

/// <summary>
/// Reads a downloaded text file line by line without trusting it: a line longer than the cap is a one-line error naming
/// the file and line (a file without newlines would otherwise be read whole into one string), and a line that is not
/// UTF-8 is one too. Line ends are <c>\n</c> or <c>\r\n</c>; a UTF-8 byte order mark is skipped.
/// </summary>
public sealed class BoundedLineReader : IDisposable
{
    /// <summary>1 MiB: a score row or uid is some bytes to a few KiB, a caption column included.</summary>
    public const int DefaultMaxLineBytes = 1 << 20;

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);
    private readonly Stream _stream;
    private readonly string _path;
    private readonly int _maxLineBytes;
    private readonly byte[] _buffer;
    private int _start, _end;
    private bool _eof;

    /// <param name="what">what the file should be, for the refusal of a FIFO or device ("a CSV score file")</param>
    public BoundedLineReader(string path, string what, int maxLineBytes = DefaultMaxLineBytes)
    {
        _path = path;
        _maxLineBytes = maxLineBytes;
        _stream = RegularFile.OpenRead(path, what, 1 << 16);
        _buffer = new byte[Math.Max(1 << 16, maxLineBytes + 2)];
    }

    /// <summary>1-based number of the line last returned.</summary>
    public long LineNumber { get; private set; }

    public string Path => _path;

    public bool TryReadLine(out string line)
    {
        line = "";
        while (true)
        {
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0 || (_eof && _end > _start))
            {
                int stop = newline >= 0 ? newline : _end;
                int length = stop - _start;
                if (length > 0 && _buffer[stop - 1] == '\r') length--;
                LineNumber++;
                if (length > _maxLineBytes) throw TooLong();
                var bytes = _buffer.AsSpan(_start, length);
                if (LineNumber == 1 && bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) bytes = bytes[3..];
                try { line = StrictUtf8.GetString(bytes); }
                catch (DecoderFallbackException) { throw new InvalidDataException($"{_path}: line {LineNumber} is not valid UTF-8 text"); }
                _start = newline >= 0 ? newline + 1 : _end;
                return true;
            }
            if (_eof) return false;
            if (_end - _start > _maxLineBytes + 1)
            {
                LineNumber++;
                throw TooLong();
            }
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            int read = _stream.Read(_buffer, _end, _buffer.Length - _end);
            if (read == 0) _eof = true;
            _end += read;
        }
    }

    private InvalidDataException TooLong() => new($"{_path}: line {LineNumber} is longer than {_maxLineBytes} bytes");

    public void Dispose() => _stream.Dispose();
}
