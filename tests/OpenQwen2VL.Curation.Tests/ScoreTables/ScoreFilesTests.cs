using OpenQwen2VL.Curation.Filtering;
using OpenQwen2VL.Curation.ScoreTables;
using OpenQwen2VL.Curation.Scoring;
using OpenQwen2VL.Tests.Shards;
using Parquet;
using Parquet.Schema;

namespace OpenQwen2VL.Tests.Curation.ScoreTables;

public sealed class ScoreFilesTests
{
    private static ScoreTable Load(IReadOnlyList<string> columns, out ScoreLoadStats stats, params string[] files)
    {
        var table = new ScoreTable(columns);
        stats = new ScoreLoadStats();
        foreach (var f in ScoreFiles.Expand(files)) ScoreFiles.Load(f, table, stats);
        return table;
    }

    private static float Score(ScoreTable t, string uid, string column) => t.Get(t.RowOf(SampleUid.Key(uid)), t.ColumnIndex(column));

    /// <summary>The reference MLM-Filter scorer's parquet: uid, caption and its four metrics as the model's text.</summary>
    private static void WriteReferenceParquet(string path, string[] uids, Dictionary<string, string?[]> metrics) =>
        WriteReferenceParquetAsync(path, uids, metrics).GetAwaiter().GetResult();

    private static async Task WriteReferenceParquetAsync(string path, string[] uids, Dictionary<string, string?[]> metrics)
    {
        var uid = new DataField<string>("uid");
        var caption = new DataField<string>("caption");
        var fields = metrics.Keys.Select(k => new DataField<string>(k)).ToArray();
        var schema = new ParquetSchema([uid, caption, .. fields]);
        await using var stream = File.Create(path);
        await using var writer = await ParquetWriter.CreateAsync(schema, stream);
        using var group = writer.CreateRowGroup();
        await group.WriteAsync(uid, uids);
        await group.WriteAsync(caption, uids.Select(u => "a caption of " + u).ToArray());
        foreach (var f in fields) await group.WriteAsync(f, metrics[f.Name]);
    }

    [Fact]
    public void TheReferenceScorersTextColumnsAreMappedAndParsedByTheMlmFilterRule()
    {
        using var tmp = new TempDir();
        string[] uids = ["0123456789abcdef0123456789abcdef", "u1", "u2", "u3"];
        string?[] itm = ["85", "72\nThe image shows a dog.", "not a number", null];
        string?[] su = [",90;", "101", "", "40"];
        WriteReferenceParquet(tmp.File("ref.parquet"), uids, new() { ["image_text_matching_score"] = itm, ["semantic_understanding_score"] = su });
        Assert.Equal(["mlm_itm", "mlm_su"], ScoreFiles.Columns(tmp.File("ref.parquet")));

        var table = Load(["mlm_itm", "mlm_su"], out var stats, tmp.File("ref.parquet"));
        for (int i = 0; i < uids.Length; i++)
        {
            // The rule: MlmFilterScoreParser on the text; unparseable or absent text is a missing score.
            float Expected(string? text) => text is not null && MlmFilterScoreParser.TryParse(text, out long v) ? v : float.NaN;
            Assert.Equal(Expected(itm[i]), Score(table, uids[i], "mlm_itm"));
            Assert.Equal(Expected(su[i]), Score(table, uids[i], "mlm_su"));
        }
        Assert.Equal(85f, Score(table, uids[0].ToUpperInvariant(), "mlm_itm")); // hex uids join whatever their case
        Assert.Equal(4, stats.Rows);
        Assert.Equal(1, stats.Unparseable["mlm_itm"]); // "not a number"; null is missing, not unparseable
    }

    [Fact]
    public void CuratesOwnScoreParquetIsReadByItsColumnName()
    {
        using var tmp = new TempDir();
        string column = CurationPipeline.ScoreColumnName("tiny_siglip");
        var file = new ScoreFile([new ScoreColumn(column)]);
        file.Add([new ScoringPair("k0", "a", "x"), new ScoringPair("k1", "b", "y")], new ScoredBatch([[0.25f, -0.5f]], [null]));
        file.Write(tmp.File("scores/00000.parquet"));
        var table = Load([column], out _, tmp.File("scores"));
        Assert.Equal(0.25f, Score(table, "a", column));
        Assert.Equal(-0.5f, Score(table, "b", column));
    }

    [Fact]
    public void CsvWithQuotesEmptyCellsAndReferenceColumns()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("s.csv"),
            "caption,uid,siglip,image_text_matching_score\n" +
            "\"a, \"\"quoted\"\" caption\",a,0.125,85\n" +
            "b caption,b,,\"70\n" +  // a quoted field may not span lines
            "");
        var e = Assert.Throws<InvalidDataException>(() => Load(["siglip"], out _, tmp.File("s.csv")));
        Assert.Contains("line 3 has an unterminated quoted field", e.Message);

        File.WriteAllText(tmp.File("s.csv"),
            "caption,uid,siglip,image_text_matching_score\r\n" +
            "\"a, \"\"quoted\"\" caption\",a,0.125,85\r\n" +
            "b caption,b,,\"70,\"\r\n" +
            "c,c,high,x\r\n" +
            ",,1,1\r\n");
        Assert.Equal(["caption", "siglip", "mlm_itm"], ScoreFiles.Columns(tmp.File("s.csv")));
        var table = Load(["siglip", "mlm_itm"], out var stats, tmp.File("s.csv"));
        Assert.Equal(0.125f, Score(table, "a", "siglip"));
        Assert.Equal(85f, Score(table, "a", "mlm_itm"));
        Assert.True(float.IsNaN(Score(table, "b", "siglip")));
        Assert.Equal(70f, Score(table, "b", "mlm_itm"));
        Assert.Equal(1, stats.Unparseable["siglip"]);
        Assert.Equal(1, stats.Unparseable["mlm_itm"]);
        Assert.Equal(1, stats.RowsWithoutUid);
        Assert.Equal(4, stats.Rows);
    }

    [Fact]
    public void JsonLinesAndTheLastScoreOfARepeatedUidWins()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("a.jsonl"),
            "{\"uid\": \"a\", \"siglip\": 0.5, \"mlm_su\": \"88\"}\n\n" +
            "{\"uid\": 17, \"siglip\": null, \"mlm_su\": 12}\n" +
            "{\"siglip\": 1}\n" +
            "{\"uid\": \"a\", \"siglip\": 0.75, \"mlm_su\": [1]}\n");
        var table = Load(["siglip", "mlm_su"], out var stats, tmp.File("a.jsonl"));
        Assert.Equal(0.75f, Score(table, "a", "siglip"));
        Assert.Equal(88f, Score(table, "a", "mlm_su"));
        Assert.Equal(12f, Score(table, "17", "mlm_su"));
        Assert.True(float.IsNaN(Score(table, "17", "siglip")));
        Assert.Equal(1, stats.RowsWithoutUid);
        Assert.Equal(1, stats.Repeated["siglip"]);
        Assert.Equal(1, stats.Unparseable["mlm_su"]);
    }

    [Theory]
    [InlineData("a.jsonl", "{\"uid\": \"a\"}\n[1, 2]\n", "line 2 is not a JSON object")]
    [InlineData("a.jsonl", "{\"uid\": \"a\"}\n{\"uid\": \n", "line 2 is not valid JSON")]
    [InlineData("a.csv", "siglip,score\n1,2\n", "has no uid column")]
    [InlineData("a.csv", "uid,siglip\na,1,2\n", "line 2 has 3 fields, the header 2")]
    [InlineData("a.csv", "uid,siglip,siglip\n", "column siglip appears twice")]
    [InlineData("a.csv", "uid,mlm_itm,image_text_matching_score\n", "both give the score mlm_itm")]
    [InlineData("a.parquet", "PAR1 not really", "not a readable Parquet score file")]
    [InlineData("a.txt", "uid\n", "not a score file")]
    public void ABadScoreFileIsOneLineNamingIt(string name, string content, string problem)
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File(name), content);
        var e = Assert.Throws<InvalidDataException>(() => Load(["siglip"], out _, tmp.File(name)));
        Assert.Contains(problem, e.Message);
        Assert.Contains(tmp.File(name), e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AnOverlongLineIsRefusedWithoutReadingItWhole()
    {
        using var tmp = new TempDir();
        using (var w = new StreamWriter(tmp.File("long.csv")))
        {
            w.Write("uid,siglip\na,");
            w.Write(new string('1', BoundedLineReader.DefaultMaxLineBytes + 10));
        }
        var e = Assert.Throws<InvalidDataException>(() => Load(["siglip"], out _, tmp.File("long.csv")));
        Assert.Contains("line 2 is longer than", e.Message);
    }
}
