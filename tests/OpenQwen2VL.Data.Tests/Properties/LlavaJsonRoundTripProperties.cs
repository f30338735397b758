using ADRaffy.ENSNormalize;
using CsCheck;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Tests.Prompts;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Properties;

/// <summary>
/// LLaVA JSON written by <see cref="SyntheticDatasetWriter"/> and read by <see cref="LlavaSftReader"/>: every record
/// comes back with its id and images, and its turns' texts (any Unicode, quotes, backslashes, newlines) inside the
/// prompt; the replies are exactly the trained spans.
/// </summary>
public sealed class LlavaJsonRoundTripProperties
{
    /// <summary>Text without the image placeholder or ChatML's markers (those are markup, not text, to the reader).</summary>
    private static readonly Gen<string> TurnText = PropertyGen.Text(20)
        .Select(s => ENSNormalize.NF.NFC(s)) // the tokenizer's normalizer; string.Normalize is a no-op here (InvariantGlobalization)
        .Where(s => s.Trim().Length > 0 && !s.Contains(MultimodalTokens.ImagePlaceholder) && !s.Contains("<|") && !s.Contains("|>"));

    private static readonly Gen<SftRecord> Record =
        from id in PropertyGen.Name(1, 10)
        from images in Gen.Int[0, 2]
        from exchanges in Gen.Select(TurnText, TurnText).Array[1, 3]
        select new SftRecord(id,
            [.. Enumerable.Range(0, images).Select(i => new SftImage($"{id}-{i}.jpg", [0xFF, 0xD8, (byte)i]))],
            [.. exchanges.SelectMany(e => new[] { new ConversationTurn("human", e.Item1), new ConversationTurn("gpt", e.Item2) })]);

    [Fact]
    public void WhatTheWriterWritesTheReaderReadsBack()
    {
        using var dir = new TempDir();
        int n = 0;
        Record.Array[1, 4].Select(rs => rs.GroupBy(r => r.Id).Select(g => g.First()).ToList()) // ids are unique in a file
            .Sample(records =>
            {
                var root = dir.File($"{Interlocked.Increment(ref n)}");
                var data = new SyntheticDataset(new SyntheticDatasetOptions { PretrainPairs = 0, SftRecords = records.Count, EvalImages = 0 }, [], records, [], []);
                var layout = SyntheticDatasetWriter.Write(data, root);
                var read = new LlavaSftReader(new ChatMlPromptBuilder(PromptTestTokenizer.Instance), layout.SftImageRoot, null, 4)
                    .Read(layout.SftJson, new SampleStats()).ToList();
                Assert.Equal(records.Select(r => r.Id), read.Select(s => s.Id));
                for (int i = 0; i < records.Count; i++)
                {
                    Assert.Equal(records[i].Images.Select(m => Path.Combine(layout.SftImageRoot, m.File)), read[i].ImagePaths);
                    string prompt = PromptTestTokenizer.DecodeWithPlaceholders(read[i].Tokens.InputIds);
                    foreach (var t in records[i].Conversations) Assert.Contains(t.Value, prompt);
                    Assert.Equal(records[i].Conversations.Where(t => t.From == "gpt").Select(t => t.Value + "<|im_end|>"),
                        PromptTestTokenizer.TrainedSpans(read[i].Tokens));
                }
                Directory.Delete(root, recursive: true);
            }, iter: 100);
    }
}
