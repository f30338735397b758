using Parquet;
using Parquet.Schema;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Curation.Filtering;

/// <summary>
/// Writes the scores of one shard as Parquet (Parquet.Net) with DataComp/MLM-Filter columns:
/// <c>uid</c>, <c>caption</c>, <c>{metric}_score</c>. Written to a temporary file and renamed.
/// </summary>
public static class ScoreParquetWriter
{
    public static void Write(string path, string metric, IReadOnlyList<string> uids, IReadOnlyList<string> captions, IReadOnlyList<float> scores)
    {
        if (uids.Count != captions.Count || uids.Count != scores.Count) throw new ArgumentException("columns must have the same length");
        var uid = new DataField<string>("uid");
        var caption = new DataField<string>("caption");
        var score = new DataField<float>(ScoreColumn(metric));
        var schema = new ParquetSchema(uid, caption, score);
        AtomicFile.Write(path, stream => WriteAsync(stream, schema, uid, caption, score, uids, captions, scores).GetAwaiter().GetResult());
    }

    public static string ScoreColumn(string metric) => metric + "_score";

    private static async Task WriteAsync(Stream stream, ParquetSchema schema, DataField uid, DataField caption, DataField score,
        IReadOnlyList<string> uids, IReadOnlyList<string> captions, IReadOnlyList<float> scores)
    {
        await using var writer = await ParquetWriter.CreateAsync(schema, stream);
        using var group = writer.CreateRowGroup();
        await group.WriteAsync(uid, uids.ToArray());
        await group.WriteAsync(caption, captions.ToArray());
        await group.WriteAsync<float>(score, scores.ToArray().AsMemory());
    }
}
