using System.CommandLine;
using OpenQwen2VL.Cli;
using OpenQwen2VL.Cli.Options;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>One spelling and one meaning per option across the commands.</summary>
public class SharedOptionsTests
{
    private static readonly IReadOnlyList<Command> Commands = Program.BuildRoot().Subcommands.ToList();

    private static IEnumerable<(Command Command, Option Option)> All() =>
        Commands.SelectMany(c => c.Options.Select(o => (c, o)));

    [Fact]
    public void SharedOptionsHaveOneDescriptionAndOneDefaultEverywhere()
    {
        foreach (var name in new[] { "--device", "--dtype", "--model", "--llm", "--vision", "--projector", "--visual-tokens", "--prompt-format" })
        {
            var uses = All().Where(x => x.Option.Name == name).ToList();
            Assert.True(uses.Count >= 1, name);
            Assert.Single(uses.Select(x => x.Option.HelpName).Distinct());
            if (name is "--device" or "--dtype") Assert.Single(uses.Select(x => x.Option.Description).Distinct());
        }
        // --seed defaults to the recipe's seed in every command that has it.
        var seeds = All().Where(x => x.Option.Name == "--seed").ToList();
        Assert.True(seeds.Count >= 5);
        foreach (var (command, option) in seeds)
        {
            // train's --seed is a shortcut for the stage config's seed, whose default it keeps.
            int? value = option switch
            {
                Option<int> o => o.DefaultValueFactory!(null!),
                Option<int?> => (int)OpenQwen2VL.Training.Config.StageConfig.ForStage(OpenQwen2VL.Training.Config.Stage.Pretrain).Seed,
                _ => null,
            };
            Assert.True(value == CommonOptions.DefaultSeed, $"{command.Name} --seed defaults to {value}");
        }
    }

    [Fact]
    public void NoCommandSpellsTheOutputFolderOtherThanOut()
    {
        Assert.DoesNotContain(All(), x => x.Option.Name is "--output" or "--out-dir" or "--pool" or "--style" or "--chat" or "--prismatic");
        foreach (var name in new[] { "synth", "curate", "pack", "train", "demo" })
            Assert.Contains(Commands.Single(c => c.Name == name).Options, o => o.Name == "--out");
    }

    [Theory]
    [InlineData("train", "--stage", "pretrain|sft|align")]
    [InlineData("train", "--preset", "tiny")]
    [InlineData("generate", "--dtype", "fp32|bf16|fp16")]
    [InlineData("evaluate", "--prompt-format", "plain|chatml|open-qwen2vl")]
    [InlineData("evaluate", "--baseline", "majority|majority-per-type")]
    [InlineData("pack", "--over-capacity", "drop|truncate")]
    public void HelpListsTheChoices(string command, string option, string choices)
    {
        var (rc, output, _) = CliInvocation.Invoke(command, "--help");
        Assert.Equal(0, rc);
        var line = output.Split('\n').Single(l => l.TrimStart().StartsWith(option + " ", StringComparison.Ordinal));
        Assert.Contains($"<{choices}>", line);
    }

    [Fact]
    public void AChoiceOutsideTheListIsOneLineNamingTheChoices()
    {
        var line = CliInvocation.UserError("train", "--stage", "finetune", "--data", "x", "--out", "y");
        Assert.Contains("pretrain, sft, align", line);
    }
}
