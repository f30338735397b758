using System.Text;

namespace OpenQwen2VL.Curation.ScoreTables;

/// <summary>
/// A CSV score file: a header row naming the columns, one of them <c>uid</c>, then a row per sample. Fields may be quoted
/// (<c>"a, b"</c>, <c>""</c> for a quote) but not span lines. An empty cell is a missing score.
/// </summary>
public static class CsvScoreFile
{
    public static IReadOnlyList<string> Columns(string path)
    {
        using var reader = new BoundedLineReader(path, "a CSV score file");
        return ScoreFiles.MapColumns(path, Header(reader));
    }

    public static void Load(string path, ScoreTable table, ScoreLoadStats stats)
    {
        using var reader = new BoundedLineReader(path, "a CSV score file");
        var header = Header(reader);
        int uidAt = header.IndexOf(ScoreColumnNames.Uid);
        // (field index, table column) for the columns the table wants.
        var wanted = header.Select((name, i) => (i, name, table.ColumnIndex(ScoreColumnNames.Map(name))))
            .Where(w => w.name != ScoreColumnNames.Uid && w.Item3 >= 0).ToArray();
        while (reader.TryReadLine(out var line))
        {
            if (line.Length == 0) continue;
            var fields = Split(line, reader);
            if (fields.Count != header.Count)
                throw new InvalidDataException($"{path}: line {reader.LineNumber} has {fields.Count} fields, the header {header.Count}");
            stats.Rows++;
            string uid = fields[uidAt].Trim();
            if (uid.Length == 0) { stats.RowsWithoutUid++; continue; }
            var key = SampleUid.Key(uid);
            foreach (var (field, name, column) in wanted)
                ScoreFiles.PutText(table, stats, key, column, name, fields[field]);
        }
    }

    private static List<string> Header(BoundedLineReader reader)
    {
        if (!reader.TryReadLine(out var line)) throw new InvalidDataException($"{reader.Path}: empty CSV file (expected a header row with uid)");
        var header = Split(line, reader).Select(h => h.Trim()).ToList();
        if (!header.Contains(ScoreColumnNames.Uid))
            throw new InvalidDataException($"{reader.Path}: the CSV header has no uid column (it has: {string.Join(", ", header.Take(20))})");
        ScoreFiles.MapColumns(reader.Path, header); // refuses repeated names
        return header;
    }

    /// <summary>RFC 4180 fields of one line.</summary>
    internal static List<string> Split(string line, BoundedLineReader reader)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        int i = 0;
        while (true)
        {
            field.Clear();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length)
                        throw new InvalidDataException($"{reader.Path}: line {reader.LineNumber} has an unterminated quoted field (fields spanning lines are not supported)");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    field.Append(line[i++]);
                }
                if (i < line.Length && line[i] != ',')
                    throw new InvalidDataException($"{reader.Path}: line {reader.LineNumber}: text after a closing quote at column {i + 1}");
            }
            else
            {
                int comma = line.IndexOf(',', i);
                int stop = comma < 0 ? line.Length : comma;
                field.Append(line, i, stop - i);
                i = stop;
            }
            fields.Add(field.ToString());
            if (i >= line.Length) return fields;
            i++; // the comma
        }
    }
}
