using System.Text.Json.Nodes;

namespace OpenQwen2VL.Curation.ScoreTables;

/// <summary>What reading the score files met: rows, rows without a uid, values that are no score, repeated scores.</summary>
public sealed class ScoreLoadStats
{
    public List<(string Path, string Format, long Rows)> Files { get; } = [];
    public long Rows { get; set; }
    public long RowsWithoutUid { get; set; }
    /// <summary>Values present but not a number (or, in a reference MLM-Filter column, not a score by its rule): missing.</summary>
    public SortedDictionary<string, long> Unparseable { get; } = new(StringComparer.Ordinal);
    /// <summary>A uid scored again in a column (another file or row): the last value wins.</summary>
    public SortedDictionary<string, long> Repeated { get; } = new(StringComparer.Ordinal);

    public void CountUnparseable(string column) => Unparseable[column] = Unparseable.GetValueOrDefault(column) + 1;

    public void CountRepeated(string column) => Repeated[column] = Repeated.GetValueOrDefault(column) + 1;

    public JsonObject ToJson()
    {
        var files = new JsonArray();
        foreach (var (path, format, rows) in Files) files.Add(new JsonObject { ["path"] = path, ["format"] = format, ["rows"] = rows });
        var unparseable = new JsonObject();
        foreach (var (c, n) in Unparseable) unparseable[c] = n;
        var repeated = new JsonObject();
        foreach (var (c, n) in Repeated) repeated[c] = n;
        return new JsonObject
        {
            ["files"] = files, ["rows"] = Rows, ["rows_without_uid"] = RowsWithoutUid,
            ["unparseable_values"] = unparseable, ["repeated_scores"] = repeated,
        };
    }
}
