using System.CommandLine;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Cli.Serving;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>
/// <c>oqvl serve</c>: loads a model as <c>generate</c> does and answers OpenAI-style chat completions over HTTP
/// (<see cref="ChatServer"/>) until SIGTERM or Ctrl+C, which lets running requests finish first.
/// </summary>
public sealed class ServeCommand : ICliCommand
{
    private readonly ModelOptions model = new();
    private readonly Option<string> host = new("--host") { Description = "address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
    private readonly Option<int> port = new Option<int>("--port") { Description = "port to listen on (0: any free port)", DefaultValueFactory = _ => 8000, HelpName = "P" }.InRange(0, 65535);
    private readonly Option<int> maxBatch = CommonOptions.Positive("--max-batch", "most requests decoded together", 8);
    private readonly Option<int> maxQueue = new Option<int>("--max-queue") { Description = "most requests waiting beyond the batch; more get 429", DefaultValueFactory = _ => 64, HelpName = "N" }.AtLeast(0);
    private readonly Option<string?> apiKey = new("--api-key") { Description = "require 'Authorization: Bearer KEY' on /v1 requests", HelpName = "KEY" };
    private readonly Option<bool> allowLocalFiles = new("--allow-local-files") { Description = "accept file:// image URLs (read from this machine)" };
    private readonly Option<string?> name = new("--served-model-name") { Description = "the model's name in /v1/models (default: the --model folder's name)", HelpName = "NAME" };

    public Command Build()
    {
        var cmd = new Command("serve", "An OpenAI-compatible chat completions server (POST /v1/chat/completions, GET /v1/models, GET /health) for a trained model");
        model.AddTo(cmd);
        foreach (var o in new Option[] { host, port, maxBatch, maxQueue, apiKey, allowLocalFiles, name }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var log = r.InvocationConfiguration.Error;
            var server = Create(r, log, out var loaded);
            using (loaded)
            {
                try
                {
                    server.StartAsync().GetAwaiter().GetResult();
                    log.WriteLine($"serving {server.Settings.ModelName} on {string.Join(", ", server.Urls)}");
                    server.WaitForShutdownAsync().GetAwaiter().GetResult();
                }
                catch (IOException e) { throw new CliUserException($"--host/--port: cannot listen on {r.GetValue(host)}:{r.GetValue(port)}: {e.Message}"); }
                finally { server.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            }
            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// Loads the model the parsed options name and builds its server (not started); tests start it on port 0 and may
    /// <paramref name="adjust"/> limits that have no flag.
    /// </summary>
    public ChatServer Create(ParseResult r, TextWriter log, out OpenQwen2VL.Model.Vlm.LoadedVlm loaded, Func<ServeSettings, ServeSettings>? adjust = null)
    {
        loaded = model.Load(r, log);
        var format = model.Format(r, loaded, PromptFormatChoice.Plain);
        var tokenizer = loaded.Tokenizer;
        var settings = new ServeSettings
        {
            ModelName = r.GetValue(name) ?? ModelName(r.GetValue(model.Model) ?? r.GetValue(model.Llm) ?? "oqvl"),
            Host = r.GetValue(host)!, Port = r.GetValue(port), MaxBatch = r.GetValue(maxBatch), MaxQueue = r.GetValue(maxQueue),
            ApiKey = r.GetValue(apiKey), AllowLocalFiles = r.GetValue(allowLocalFiles),
        };
        if (adjust is not null) settings = adjust(settings);
        return new ChatServer(loaded, settings, messages => PromptIds(tokenizer, messages, format), log);
    }

    static string ModelName(string path) => Path.GetFileName(Path.TrimEndingDirectorySeparator(path)) is { Length: > 0 } n ? n : "oqvl";

    /// <summary>
    /// The prompt of a conversation in the model's format. One user message is exactly <c>generate</c>'s prompt (so the
    /// answers agree); a longer one is a ChatML or Open-Qwen2VL conversation (a system message replaces ChatML's), or,
    /// for a plain (pre-trained) model, its messages' texts one after another.
    /// </summary>
    public static long[] PromptIds(ITextTokenizer tokenizer, IReadOnlyList<ChatMessage> messages, PromptFormatChoice format)
    {
        int images(string text) => text.Split(MultimodalTokens.ImagePlaceholder).Length - 1;
        if (messages is [{ Role: ChatRole.User } only])
            return GenerateCommand.PromptIds(tokenizer, only.Text, images(only.Text), format);
        var turns = messages.Where(m => m.Role != ChatRole.System).Select(m => new ChatTurn(m.Role, m.Text)).ToList();
        if (turns.Count == 0 || turns[^1].Role != ChatRole.User) throw new CliUserException("messages: the last message must be the user's");
        switch (format)
        {
            case PromptFormatChoice.Chatml:
                var system = messages.FirstOrDefault(m => m.Role == ChatRole.System)?.Text ?? ChatMlPromptBuilder.DefaultSystemPrompt;
                var ids = new List<int>(new ChatMlPromptBuilder(tokenizer, system).Build(turns).InputIds);
                ids.AddRange(tokenizer.Encode($"{MultimodalTokens.ImStart}assistant\n"));
                return ids.Select(i => (long)i).ToArray();
            case PromptFormatChoice.OpenQwen2vl:
                return new OpenQwen2VLPromptBuilder(tokenizer).PromptIds(turns).Select(i => (long)i).ToArray();
            default:
                string text = string.Join("\n", messages.Select(m => m.Text));
                return GenerateCommand.PromptIds(tokenizer, text, images(text), format);
        }
    }
}
