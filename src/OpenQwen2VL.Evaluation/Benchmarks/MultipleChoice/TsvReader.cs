using System.Text;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;

/// <summary>One data row of a TSV file: its fields (null when the row was refused) and why it was refused.</summary>
public sealed record TsvRow(int Line, IReadOnlyList<string>? Fields, string? SkipReason);

/// <summary>
/// Streams a tab-separated file the way VLMEvalKit reads its benchmark files (<c>pd.read_csv(f, sep='\t')</c>,
/// vlmeval/smp/file.py load_tsv): first line is the header; a field that starts with <c>"</c> is quoted (it may hold
/// tabs and line breaks, <c>""</c> is one quote); a row ends at LF, CRLF or CR; blank lines are skipped; a row with
/// fewer fields than the header is padded with empty (NA) fields. Hostile input stays bounded: the file's size is
/// checked before reading, a field longer than <see cref="MaxFieldChars"/> is not stored (its row is a
/// <c>field_too_large</c> skip), and a row with more fields than the header is a <c>too_many_fields</c> skip.
/// </summary>
public sealed class TsvReader
{
    public TsvReader(long maxFileBytes, int maxFieldChars) => (MaxFileBytes, MaxFieldChars) = (maxFileBytes, maxFieldChars);

    /// <summary>Columns a row may have: far above any benchmark's (index, question, hint, A-Z, image, answer, ...).</summary>
    public const int MaxFields = 256;

    public long MaxFileBytes { get; }
    public int MaxFieldChars { get; }

    /// <summary>The header's column names and then every data row; errors about the file as a whole name it in one line.</summary>
    public (IReadOnlyList<string> Header, IEnumerable<TsvRow> Rows) Open(string path, string what)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: file not found ({what} expected)");
        var stream = RegularFile.OpenRead(path, what, bufferSize: 1 << 16);
        try
        {
            if (!stream.CanSeek) throw new InvalidDataException($"{path}: not a regular file ({what} expected)");
            if (stream.Length > MaxFileBytes)
                throw new InvalidDataException($"{path}: {stream.Length} bytes is too large for {what} (at most {MaxFileBytes} bytes)");
            var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
            var rows = Rows(reader).GetEnumerator();
            if (!rows.MoveNext()) { reader.Dispose(); throw new InvalidDataException($"{path}: empty file ({what} expected)"); }
            if (rows.Current.Fields is not { } header)
            {
                reader.Dispose();
                throw new InvalidDataException($"{path}: the header line is unreadable ({rows.Current.SkipReason}); {what} expected");
            }
            return (header, Rest(rows, header.Count, reader));
        }
        catch { stream.Dispose(); throw; }
    }

    private static IEnumerable<TsvRow> Rest(IEnumerator<TsvRow> rows, int columns, StreamReader reader)
    {
        using (reader)
        using (rows)
            while (rows.MoveNext())
            {
                var row = rows.Current;
                if (row.Fields is { } f && f.Count > columns) yield return row with { Fields = null, SkipReason = "too_many_fields" };
                else if (row.Fields is { } g && g.Count < columns) yield return row with { Fields = [.. g, .. Enumerable.Repeat("", columns - g.Count)] };
                else yield return row;
            }
    }

    /// <summary>Rows as the pandas C tokenizer splits them (quote handling as QUOTE_MINIMAL with doublequote).</summary>
    private IEnumerable<TsvRow> Rows(TextReader reader)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool tooLarge = false, tooMany = false, quoted = false, inQuotes = false, fieldStart = true, rowEmpty = true;
        int line = 1, rowLine = 1;
        while (true)
        {
            int c = reader.Read();
            if (inQuotes)
            {
                if (c == -1) { inQuotes = false; continue; } // an unterminated quote ends with the file, as in pandas
                if (c == '"')
                {
                    if (reader.Peek() == '"') { reader.Read(); Append('"'); }
                    else inQuotes = false;
                    continue;
                }
                if (c == '\n') line++;
                Append((char)c);
                continue;
            }
            if (c == -1 || c == '\n' || c == '\r')
            {
                if (c == '\r' && reader.Peek() == '\n') reader.Read();
                if (!rowEmpty || field.Length > 0 || quoted)
                {
                    EndField();
                    yield return tooLarge ? new TsvRow(rowLine, null, "field_too_large")
                        : tooMany ? new TsvRow(rowLine, null, "too_many_fields")
                        : new TsvRow(rowLine, fields.ToArray(), null);
                }
                if (c == -1) yield break;
                fields.Clear();
                tooLarge = tooMany = false;
                rowEmpty = true;
                fieldStart = true;
                rowLine = ++line;
                continue;
            }
            if (c == '\t') { EndField(); rowEmpty = false; continue; }
            if (c == '"' && fieldStart) { inQuotes = quoted = true; fieldStart = false; rowEmpty = false; continue; }
            fieldStart = false;
            rowEmpty = false;
            Append((char)c);
        }

        void Append(char ch)
        {
            if (field.Length < MaxFieldChars) field.Append(ch);
            else tooLarge = true;
        }

        void EndField()
        {
            if (fields.Count < MaxFields) fields.Add(field.ToString());
            else tooMany = true;
            field.Clear();
            quoted = false;
            fieldStart = true;
        }
    }
}
