using System.Text.Json.Nodes;
using OpenQwen2VL.Model.Siglip;

namespace OpenQwen2VL.Tests.Model;

/// <summary>SigLIP configs load from a dual-encoder config and from a single-tower (SiglipVisionModel) config alike.</summary>
public sealed class SiglipConfigTests
{
    [Fact]
    public void VisionConfigLoadsFromSiglipModelAndSiglipVisionModelConfigs()
    {
        var dual = ReferenceFixtures.File("siglip", "config.json");
        var fromDual = SiglipVisionConfig.Load(dual);
        var root = (JsonObject)JsonNode.Parse(File.ReadAllText(dual))!;
        var tower = (JsonObject)root["vision_config"]!.DeepClone();
        tower["model_type"] = "siglip_vision_model";
        var path = Path.Combine(Path.GetTempPath(), $"oqvl-siglip-vision-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, tower.ToJsonString());
            Assert.Equal(fromDual, SiglipVisionConfig.Load(path));
            Assert.Throws<InvalidDataException>(() => SiglipTextConfig.Load(path));
        }
        finally { File.Delete(path); }
        Assert.Equal(fromDual.ImageSize / fromDual.PatchSize, fromDual.GridSide);
        Assert.Equal(root["text_config"]!["vocab_size"]!.GetValue<int>(), SiglipTextConfig.Load(dual).VocabSize);
    }
}
