using Parquet;
using Parquet.Schema;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Curation.Scoring;

/// <summary>
/// The score parquet of one input shard (Parquet.Net), written by both <c>oqvl score</c> and <c>oqvl curate</c>:
/// <c>uid</c>, <c>key</c>, <c>caption</c>, one nullable double column per score, and a string column per raw model output. Written whole to a temporary file and renamed, so a
/// file that exists is complete.
/// </summary>
public sealed class ScoreFile
{
    public const string UidColumn = "uid", KeyColumn = "key", CaptionColumn = "caption";

    private readonly IReadOnlyList<ScoreColumn> _columns;
    private readonly List<string> _uids = [], _keys = [], _captions = [];
    private readonly List<double?>[] _values;
    private readonly List<string?>?[] _raw;

    public ScoreFile(IReadOnlyList<ScoreColumn> columns)
    {
        _columns = columns;
        _values = columns.Select(_ => new List<double?>()).ToArray();
        _raw = columns.Select(c => c.RawTextColumn is null ? null : new List<string?>()).ToArray();
    }

    public int Rows => _uids.Count;

    public void Add(IReadOnlyList<ScoringPair> pairs, ScoredBatch batch)
    {
        foreach (var p in pairs) { _uids.Add(p.Uid); _keys.Add(p.Key); _captions.Add(p.Caption); }
        for (int c = 0; c < _columns.Count; c++)
        {
            if (batch.Values[c].Length != pairs.Count) throw new InvalidOperationException($"scorer gave {batch.Values[c].Length} values of {_columns[c].Name} for {pairs.Count} pairs");
            _values[c].AddRange(batch.Values[c]);
            if (_raw[c] is { } raw) raw.AddRange(batch.RawText[c] ?? throw new InvalidOperationException($"scorer gave no raw text for {_columns[c].Name}"));
        }
    }

    /// <summary>Values of one score column (for summaries and histograms).</summary>
    public IReadOnlyList<double?> Values(int column) => _values[column];

    public void Write(string path) => AtomicFile.Write(path, stream => WriteAsync(stream).GetAwaiter().GetResult());

    private async Task WriteAsync(Stream stream)
    {
        var uid = new DataField<string>(UidColumn);
        var key = new DataField<string>(KeyColumn);
        var caption = new DataField<string>(CaptionColumn);
        var fields = new List<DataField> { uid, key, caption };
        var scoreFields = new DataField<double?>[_columns.Count];
        var rawFields = new DataField<string>?[_columns.Count];
        for (int c = 0; c < _columns.Count; c++)
        {
            fields.Add(scoreFields[c] = new DataField<double?>(_columns[c].Name));
            if (_raw[c] is not null) fields.Add((rawFields[c] = new DataField<string>(_columns[c].RawTextColumn!, true))!);
        }
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields.ToArray()), stream);
        using var group = writer.CreateRowGroup();
        await group.WriteAsync(uid, _uids);
        await group.WriteAsync(key, _keys);
        await group.WriteAsync(caption, _captions);
        for (int c = 0; c < _columns.Count; c++)
        {
            await group.WriteAsync<double>(scoreFields[c], _values[c].ToArray().AsMemory());
            if (_raw[c] is { } raw) await group.WriteAsync(rawFields[c]!, raw.ToArray()!);
        }
    }

    /// <summary>The score columns' values of a file this class wrote (for the summary of shards scored earlier).</summary>
    public static async Task<Dictionary<string, double?[]>> ReadScoresAsync(string path, IEnumerable<string> columnNames)
    {
        var wanted = columnNames.ToHashSet(StringComparer.Ordinal);
        await using var reader = await ParquetReader.CreateAsync(path);
        var fields = reader.Schema.GetDataFields().Where(f => wanted.Contains(f.Name)).ToArray();
        var parts = wanted.ToDictionary(n => n, _ => new List<double?>(), StringComparer.Ordinal);
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            foreach (var f in fields)
            {
                var values = new double?[group.RowCount];
                await group.ReadAsync<double>(f, values.AsMemory());
                parts[f.Name].AddRange(values);
            }
        }
        return parts.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray(), StringComparer.Ordinal);
    }
}
