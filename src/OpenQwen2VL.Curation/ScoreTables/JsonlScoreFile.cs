using System.Text.Json;

namespace OpenQwen2VL.Curation.ScoreTables;

/// <summary>
/// A JSON-lines score file: one object per line with a <c>uid</c> (a string; a number is read as its text) and score
/// members (numbers; text in a reference MLM-Filter column; null is a missing score). Its columns are the members of
/// its first object. A line that is no JSON object is a one-line error naming the line.
/// </summary>
public static class JsonlScoreFile
{
    public static IReadOnlyList<string> Columns(string path)
    {
        using var reader = new BoundedLineReader(path, "a JSON-lines score file");
        while (reader.TryReadLine(out var line))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var doc = ParseObject(line, reader);
            return ScoreFiles.MapColumns(path, doc.RootElement.EnumerateObject().Select(m => m.Name));
        }
        return [];
    }

    public static void Load(string path, ScoreTable table, ScoreLoadStats stats)
    {
        using var reader = new BoundedLineReader(path, "a JSON-lines score file");
        while (reader.TryReadLine(out var line))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var doc = ParseObject(line, reader);
            stats.Rows++;
            try { LoadRow(doc.RootElement, table, stats); }
            catch (InvalidOperationException e) // a lone surrogate escape in a string
            {
                throw new InvalidDataException($"{path}: line {reader.LineNumber}: {e.Message}");
            }
        }
    }

    private static void LoadRow(JsonElement row, ScoreTable table, ScoreLoadStats stats)
    {
        string? uid = row.TryGetProperty(ScoreColumnNames.Uid, out var u)
            ? u.ValueKind switch { JsonValueKind.String => u.GetString(), JsonValueKind.Number => u.GetRawText(), _ => null }
            : null;
        if (string.IsNullOrWhiteSpace(uid)) { stats.RowsWithoutUid++; return; }
        var key = SampleUid.Key(uid.Trim());
        foreach (var member in row.EnumerateObject())
        {
            if (member.Name == ScoreColumnNames.Uid) continue;
            int column = table.ColumnIndex(ScoreColumnNames.Map(member.Name));
            if (column < 0) continue;
            var value = member.Value;
            switch (value.ValueKind)
            {
                case JsonValueKind.Null: break;
                case JsonValueKind.Number: ScoreFiles.Put(table, stats, key, column, (float)value.GetDouble()); break;
                case JsonValueKind.String: ScoreFiles.PutText(table, stats, key, column, member.Name, value.GetString()); break;
                default: stats.CountUnparseable(table.Columns[column]); break;
            }
        }
    }

    private static JsonDocument ParseObject(string line, BoundedLineReader reader)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(line); }
        catch (JsonException e) { throw new InvalidDataException($"{reader.Path}: line {reader.LineNumber} is not valid JSON ({e.Message.Split('\n')[0]})"); }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw new InvalidDataException($"{reader.Path}: line {reader.LineNumber} is not a JSON object");
        }
        return doc;
    }
}
