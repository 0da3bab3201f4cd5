// The rule interpreter of `orchestrator ask`: a sentence → an intent and its arguments, with no
// model. It reads lemmas (reading.ts), so a rule names a concept once — by a set of synonyms —
// and matches every form of those words. Three steps:
// 1. out-of-domain markers (the operator's own laptop, apps and chat tools, the weather,
//    writing code…) → unknown;
// 2. the sentence's form: a question about a state ("is the queue big enough?") never reads as
//    an action, nor does one after a lead-in clause ("if the queue is full, would raising it
//    help?"), nor a report of what was done ("it got slower on its own; was that you?"); an
//    imperative, a polite request ("could you…"), a wish ("I want…") or a goal ("the backlog
//    needs more room") may; a request for advice is a decision only when it is about the node;
// 3. weighted cues per intent, summed; the best intent wins if it reaches MIN_SCORE (ties go
//    to the intent listed first).
// Arguments (capacities, factors, the decision type) are read by their own rules, from the
// clause that asks for the change.
import type { DecisionType } from '../../decide/heuristics.ts';
import type { Intent, IntentArgs } from './language.ts';
import { readSentence, type Reading } from './reading.ts';

export interface RuleReading {
  intent: Intent;
  args: IntentArgs;
  /** 0..1, from the winning score and its margin over the runner-up. */
  confidence: number;
}

/** A synonym set as a regular-expression group of lemmas (multi-word entries allowed). */
const any = (...words: string[]) => `(?:${words.join('|')})`;

// --- concepts (lemmas) ------------------------------------------------------------------------
const QUEUE = any('queue', 'backlog', 'job queue', '(?<=(?:the|waiting|job|in) )line', 'queue size', 'queue capacity', 'job limit', 'queue limit', 'queue length',
  'max(?:imum)? (?:pending|queued|waiting) (?:jobs?|tasks?|requests?)', 'pending job limit', 'pending (?:work|jobs?|requests?|tasks?)', 'queued (?:work|jobs|requests|tasks)', '(?:job|request|task) buffer', 'waiting list');
const HEARTBEAT = any('heartbeats?', 'hb', 'gossip\\w*', 'beat', 'keep-?alives?', 'keepalives?', 'liveness (?:pings?|probes?|checks?)', '(?:the )?pulse (?:between|among|across)');
const COORDINATOR = any('coordinator', 'leader', 'master', 'boss', 'leadership', 'chief', 'captain', 'who leads', 'in charge');
const WORK = any('context', 'work', 'workload', 'job', 'load', 'task', 'request', 'model context', 'session', 'inference', 'conversation', 'chat session', 'overflow', 'excess', 'surplus', 'kv cache', 'cache');
const ELSEWHERE = any('peer', 'node', 'elsewhere', 'machine', 'another', 'other', 'neighbor', 'neighbour', 'host', 'server', 'somewhere else', 'instance', 'others', 'box', 'someone else', 'swarm', 'cluster', 'mesh');
/** Verbs (lemmas) that ask for a change of size or setting. */
const CHANGE = any('scale', 'resize', 'increase', 'raise', 'grow', 'expand', 'enlarge', 'extend', 'boost', 'double', 'triple',
  'quadruple', 'halve', 'half', 'shrink', 'reduce', 'decrease', 'lower', 'cut', 'set', 'change', 'adjust', 'bump', 'make', 'multiply',
  'limit', 'cap', 'trim', 'lift', 'bring', 'tune', 'tweak', 'modify', 'update', 'twice', 'allow', 'let', 'widen', 'narrow', 'tighten',
  'loosen', 'relax', 'open up', 'knock', 'crank', 'ramp', 'dial');
const GOSSIP_CHANGE = any('adjust', 'tune', 'space', 'spread', 'ease', 'back off', 'tone down', 'calm', 'chatty', 'quicken', 'retune', 'tweak', 'change', 'set', 'speed', 'slow\\w*', 'fast\\w*', 'quick\\w*', 'rapid\\w*', 'frequent\\w*',
  'more often', 'less often', 'increase', 'decrease', 'shorten', 'lengthen', 'short', 'long', 'reduce', 'raise', 'lower', 'double',
  'halve', 'half', 'quarter', 'twice', 'cut', 'make', 'send', 'modify', 'accelerate', 'update', 'time', 'times as often', 'multiply', 'factor', 'dial', 'turn down', 'turn up', 'throttle', 'stretch', 'widen', 'extend', 'prolong', 'snappier', 'snappy', 'calm down', 'quiet\\w*', 'less noisy');

/**
 * The operator's own devices and everyday topics: such a sentence is not for the node, even
 * when it names memory, speed or a network ("how much memory does my laptop have?").
 */
const OUT_OF_DOMAIN = new RegExp(String.raw`\b(?:` + [
  String.raw`my (?:own )?(?:laptop|computer|pc|mac|macbook|phone|iphone|tablet|desktop|wifi|wi-fi|router|printer|internet|home|house|car|tv|screen|keyboard|mouse|disk|hard drive|browser|account|email|inbox|calendar|bank)`,
  'weather', 'rain', 'snow', 'sunny', 'forecast', 'temperature outside', 'recipe', 'cook', 'bake', 'pasta', 'pizza', 'restaurant',
  'poem', 'song', 'sing', 'joke', '(?:a|bedtime|short|funny) story', 'story about', 'essay', 'cover letter', 'novel', 'movie', 'film', 'music', 'books?', 'flights? (?:to|from|ticket)', 'hotel', 'holiday', 'vacation',
  String.raw`(?:write|generate|fix|debug|refactor|review) (?:a |an |some |this |my |the )?(?:python|javascript|typescript|rust|java|c\+\+|go|sql|bash|shell|html|css|regex|code|script|program|function|class|bug|query|unit test)`,
  String.raw`(?:python|javascript|typescript|java|rust|html|css|sql|regex|for loop|while loop)\b`,
  'translate', 'capital of', 'president', 'prime minister', 'football', 'soccer', '(?:football|tennis|the) match', 'stock price', 'bitcoin', 'crypto',
  'set an alarm', 'alarm clock', 'remind me (?:to|at|about|in|on|tomorrow)', 'meeting', 'calendar', 'email', 'call my', 'text my', 'turn (?:on|off) the lights?', 'thermostat',
  'stand for', 'meaning of life', 'definition of', 'quantum', 'universe', 'mount everest', 'cat pictures?', '(?:picture|photo|image)s? of (?:a|an|my|some)', 'draw',
  'laptop', 'macbook', 'photo', 'video', 'editing', 'podcast', 'tire', 'tyre', 'bike', 'bicycle', 'iphone', 'smartphone', 'gaming', 'pc', 'coffee', '(?:to|should i|can i|we) eat', 'eat (?:out|something)', 'dinner', 'lunch', 'breakfast', 'watch tonight', 'name my',
  'post office', 'bank', 'supermarket', 'doctor', 'dentist', 'airport', 'cinema', 'computer networks?', 'peer review',
  'flask', 'django', 'rails', 'react', 'docker', 'kubernetes', 'k8s', 'kubectl', 'postgres\\w*', 'mysql', 'mongo\\w*', 'redis', 'nginx', 'apache',
  'slack', 'discord', 'whatsapp', 'telegram', 'zoom', 'microsoft teams', 'github', 'gitlab', 'jira', 'aws', 'azure', 'linked list', 'binary tree', 'dmv', 'cars?', 'chrome', 'firefox', 'safari', 'excel', 'outlook', String.raw`(?:leader|president|king|queen|capital) of (?!the |this |our |my |a |an )\w+`, 'in my (?:city|town|area|country)', 'interview', 'fashion', 'my heart', 'heart rate', 'social network', 'disneyland', 'theme park', 'ride at', 'ceo', 'gossip about', 'rumou?rs?', 'book club', '(?:our|my|the) company', 'company network', 'office network', 'who do i call', 'isp', 'heroku', 'webpack', 'node\\.js', 'move house', 'who won', 'last year', 'election results?', 'job (?:offers?|market|openings?|hunt\\w*)', 'hiring', 'careers?', 'ollama', 'chatgpt', 'openai', 'lm studio', 'webserver', 'web server', 'vps', 'center a div', 'the news', 'haiku', 'time is it in', 'algorithm', 'leetcode',
  String.raw`my (?:\w+ )?(?:app|application|website|site|database|db|container|pod|deployment|repo|repository|project|blog|spreadsheet)s?`,
  'operating system', 'install windows', '(?<!round(?: - | |-))trip', 'travel', 'neural', 'machine learning', 'deep learning', 'blockchain', 'vote for (?!a |the |new |another |leader|coordinator|master|boss)', 'voting', 'shop', 'buy', 'purchase', 'order (?:me|us|food|groceries|a taxi|a pizza|some)',
].join('|') + String.raw`)\b`);

/** What the node is about: advice is for the node only when the sentence names one of these. */
const DOMAIN = /\b(?:node|peer|neighbou?r|queue|backlog|job|task|request|work|workload|load|cpu|processor|memory|ram|latency|network|swarm|mesh|cluster|gossip|heartbeat|model|context|coordinator|leader|failure|error|orchestrator|capacity|throughput|traffic|partition|slot|executor|inference|infrastructure|route|routing|evict\w*|overload\w*|spike|situation|problem|issue|about (?:this|that|it)|performance|resource|decision|action|act|move|change|scale|now|next|thing to do|here|at the moment|currently)s?\b/;
/** Advice asked for and nothing else: "what should I do?", "any advice?". */
const BARE_ADVICE = /^\W*(?:so |ok |okay |and |then |well )?(?:what (?:should|shall|do|can|must) (?:i|we) do(?: now| next)?|what do you (?:think|reckon) (?:i|we) should do(?: now| next)?|what to do(?: now| next)?|what now|what next|now what|any (?:advice|recommendations?|suggestions?|ideas?)|(?:give me |i need )(?:a |some |your )?(?:advice|recommendations?|suggestions?)|what (?:do|would) you (?:recommend|suggest|advise|propose)|(?:your )?(?:advice|recommendations?|suggestions?)|recommend something|decide|what would you (?:do|suggest|recommend)|please (?:advise|decide)|what is (?:your|the) (?:call|verdict|recommendation|advice))\W*(?:please|then|now)?\W*$/;

/** "What is a …?": a definition, not a question about this node. */
const DEFINITION = /^(?:what|who) (?:is|are) (?:a|an) (?!good|bad|better|best|right|reasonable|sensible)\w+/;

/** A question about a state (not a request phrased as a question). */
const QUESTION = /^(?:(?:and|so|ok|okay|hey|hi|quick question|just curious|curious|i wonder|tell me|do you know|any idea|i would like to know|(?:can|could|would) you (?:please )?tell me|please tell me)\W*\s*)?(?:(?:is|are|am|was|were|be|does|did|have|has|had|can|could|would|will|shall|should|may|might|must)\b(?! (?:not|nothing|no)\b)|do\b(?! (?:not|nothing|no|an?|something|anything|some)\b)|how|what|which|who|whom|whose|when|where|why|whether|any|is there|are there)\b/;
/** A request phrased as a question, or a wish: "could you double the queue?", "I want a bigger queue". */
const REQUEST = /^(?:(?:hey|hi|ok|okay|so|now|then)\W*\s*)?(?:(?:please |kindly )?(?:can|could|would|will) you (?:please |kindly |just )?(?!tell|say|show|let me know|explain|describe|list|give me|check|see)|(?:can|could|may) (?:we|i) (?:please )?(?!see|have a look|know|get|check)|would you mind (?!tell|say|show|explain|list)|i (?:want|need|would like|wish|'d like|would appreciate)|we (?:want|need|would like|must|should (?:now )?(?!we))|let us|let 's|go ahead|please|(?:would|will|is) it (?:be )?possible (?:for you )?to|how about|what about|it would be (?:great|nice|good|helpful) if|(?:can|could|would) (?:the |our |this |that |my )?(?:\w+ ){0,3}be (?:\w+ed|made|set|cut|shrunk|grown|sped up|slowed down|spaced out|moved|shifted|rerun|run|held)\b)/;

/**
 * A report or question about what was done ("was the queue doubled?", "the heartbeat got slower
 * on its own", "I heard the orchestrator moved a context"): it asks for an explanation,
 * never for the act again.
 */
const DONE = /\b(?:was|were|has|have) (?:any |a |the |some )?(?:\w+ ){0,2}(?:been )?(?:moved|migrated|changed|scaled|resized|elected|adjusted|doubled|halved|increased|decreased|grown|shrunk|raised|lowered|replaced|sped up|slowed down)\b|\bwhy (?:the |did the |has the |was the )?(?:\w+ ){0,3}(?:changed|moved|scaled|grew|shrank|doubled|halved|increased|decreased|went (?:up|down))\b|\b(?:by itself|on its own|by themselves|on their own|was (?:that|it) you)\b|(?<!\bif (?:the )?)\b(?:orchestrator|autopilot|you) (?:moved|migrated|changed|scaled|raised|lowered|doubled|halved|elected|adjusted|slowed|sped)\b/;

/** A cue: a pattern, its weight, and which text it reads (default: the lemmas and the normal text). */
type Cue = [RegExp, number] | [RegExp, number, 'normal'];

const re = (s: string) => new RegExp(s);

/** Action cues count only in a sentence that asks for something to be done. */
const ACTION_CUES: Partial<Record<Intent, Cue[]>> = {
  scale_queue: [
    [re(String.raw`\b${CHANGE}\b.*\b${QUEUE}\b|\b${QUEUE}\b.*\b${CHANGE}\b`), 10],
    [re(String.raw`\b${QUEUE}\b (?:(?:capacity|size|limit|length|max|maximum) )?[=:>\- ]*(?:to |of |at |on )?\d+\b|\b${QUEUE}\W*(?:(?:capacity|size|limit) )?(?:x ?\d|\d+(?:\.\d+)? ?x\b|times (?:\d|two|three|four))|\b\d+(?:\.\d+)? ?x (?:the )?${QUEUE}`), 8],
    [re(String.raw`\b${QUEUE}\b.*\b(?:big|bigger|large|larger|small|smaller|long|longer|short|shorter|more|less|fewer|few)\b`), 2],
    [re(String.raw`\b(?:room|space|capacity) for (?:more|fewer|few|less|additional|extra|\d+) (?:waiting |queued |pending )?(?:jobs?|work|requests?|tasks?)`), 8],
    [re(String.raw`\b${QUEUE}\b (?:\w+ ){0,2}(?:hold|take|accept|fit|store|keep)\b (?:more|fewer|less|extra|additional|\d+)\b`), 8],
    [re(String.raw`\b${QUEUE}\b.*\b(?:give|add|allow|grant) (?:it|the queue|the backlog) (?:more|extra|additional|fewer|less) (?:slots?|room|space|capacity|places)\b`), 8],
    // A goal stated instead of the command: "the backlog needs more room", "the queue is too cramped".
    [re(String.raw`\b${QUEUE}\b.*\b(?:need|want|could use|require|lack|short on|run out of|out of)\w* (?:more |extra |some |additional )?(?:room|space|capacity|slots?|headroom)\b|\b${QUEUE}\b.*\b(?:too|very|rather|far too) (?:small|short|cramped|tight|narrow|little|tiny|limited)\b|\b${QUEUE}\b.*\b(?:overflow\w*|keep\w* overflow\w*)`), 8],
    [re(String.raw`\b(?:allow|accept|take|let|permit|hold|queue) (?:up to \d+ |at most \d+ |no more than \d+ |more |fewer |few |less |\d+ )(?:jobs?|work|requests?|tasks?)`), 8],
    [re(String.raw`\b(?:need|want|like) (?:a |some )?(?:more|extra|big|large|small|long|short)\w* ${QUEUE}`), 8],
    [/^\W*(?:(?:an? )?(?:bigger|larger|smaller|longer|shorter) (?:job )?queue|more queue|(?:job )?queue (?:bigger|larger|smaller|shorter|longer|up|down))\b/, 8, 'normal'],
    [re(String.raw`\b${QUEUE}\b.*\b(?:should|must|needs? to|ought to|has to|have to|could stand to|could do with) be(?:ing)? (?:\w+ ){0,2}(?:bigger|larger|smaller|shorter|longer|increased|decreased|reduced|raised|lowered|halved|doubled|tripled|grown|shrunk|expanded|enlarged|scaled|resized|set|changed|\d+)\b`), 8, 'normal'],
    [re(String.raw`\b(?:give|allow|let) (?:the )?${QUEUE} (?:(?:a bit |a little |a lot |some )?(?:more|less|extra|additional)|some (?:more |extra )?(?:room|space|slack|headroom|breathing room))\b|\b(?:more|extra|additional|less) (?:capacity|room|space|slots) (?:for|in|to) (?:the )?${QUEUE}`), 8],
  ],
  adjust_gossip: [
    [re(String.raw`\b${GOSSIP_CHANGE}\b.*\b${HEARTBEAT}\b|\b${HEARTBEAT}\b.*\b${GOSSIP_CHANGE}\b`), 8],
    [re(String.raw`\b${HEARTBEAT}\b.*\b(?:interval|period|rate|frequency|often|every)\b`), 2],
    [re(String.raw`\b${HEARTBEAT} (?:interval |factor |multiplier )?(?:x ?\d|\d+(?:\.\d+)? ?x\b|\d+(?:\.\d+)?$)`), 8, 'normal'],
    [/\b(?:ping|check in (?:with|on)|check on|poll|probe|contact|call|say hello to|greet|reach out to|talk to|announce\w*)\b.*\b(?:peers?|neighbors?|neighbours?|nodes?|others|swarm|network|cluster|mesh|each other)\b.*\b(?:more|less) (?:often|frequently)\b|\b(?:more|less) (?:often|frequently)\b.*\b(?:ping|check in|poll|probe)\b/, 8, 'normal'],
    [re(String.raw`\b(?:more|less|fewer) (?:frequent )?${HEARTBEAT}\b|\b${HEARTBEAT} (?:more|less)\b|\b${HEARTBEAT} (?:every|each|once every) (?:\d|few|couple)`), 8, 'normal'],
    [re(String.raw`\b${HEARTBEAT}\b.*\b(?:should|must|needs? to|ought to|has to|have to) be (?:\w+ ){0,3}(?:faster|slower|relaxed|lazier|calmer|snappier|tighter|quicker|more frequent|less frequent|shorter|longer|sped up|slowed down|adjusted|changed|halved|doubled)\b|\bspace (?:the |our )?${HEARTBEAT}\b.*\bout\b`), 8, 'normal'],
  ],
  start_election: [
    [/\b(?:elect|election|re-?elect|reelect|re-election|reelection|re-?vote|vote again|new vote|fresh vote)\b/, 8],
    [re(String.raw`\b(?:new|fresh|different) ${COORDINATOR}\b`), 6],
    [re(String.raw`\b(?:vote|choose|pick|select|replace|rotate|change|get|find|appoint|swap|switch|hand|pass|transfer|dethrone|depose|oust|overthrow|remove|demote|reboot|reset|redo)\b.*\b${COORDINATOR}\b`), 6],
    [re(String.raw`\b${COORDINATOR}\b.*\b(?:vote|choose|pick|select|replace|rotate|swap|switch|elect|appoint)\b|\bvote (?:on|for|about) (?:who|a new|the next)\b|\b(?:someone|somebody|another (?:node|peer)|a different (?:node|peer)) (?:else )?(?:should |must |can |to )?(?:lead|coordinate|take charge|take over|be in charge)\b`), 6],
    [re(String.raw`\b(?:make|promote|name|appoint) (?:a |another |some |the )?(?:different |other |new )?(?:node|peer|machine|one|\w+) (?:the |our |as )?(?:new )?${COORDINATOR}\b|\b${COORDINATOR}\b.*\b(?:need|want|get|find|sort out|arrange|organi[sz]e|choose|pick) (?:another|a new|a different|a replacement)\b|\bpromote\b.*\b${COORDINATOR}\b|\b${COORDINATOR}\b.*\b(?:step down|resign|be replaced|be removed)\b|\b(?:someone|somebody) (?:new|else|different) (?:in charge|to lead|leading|as (?:leader|coordinator))\b`), 6],
    [re(String.raw`\b${COORDINATOR} (?:selection|vote|voting|ballot|choice|pick)\b`), 8],
  ],
  migrate_context: [
    [/\b(?:migrate|migration|offload|off-load|relocate|rebalance|re-balance|evacuate|drain)\b/, 8],
    [re(String.raw`\b(?:move|shift|transfer|hand|send|push|spread|distribute|redistribute|give|pass|put|place|ship|carry|port|hand over|unload|rehome|re-home|reassign|hand off)\b.*\b${WORK}\b.*\b${ELSEWHERE}\b`), 8],
    [re(String.raw`\b(?:get|ask for|borrow) help from (?:the )?(?:others|peers?|neighbou?rs?|other (?:nodes|machines))\b|\b(?:move|shift|take|get|push)\b.*\b${WORK}\b.*\b(?:off here|away from here|out of here)\b`), 8],
    [re(String.raw`\b(?:move|shift|transfer|ship|carry|port)\b.*\bcontexts?\b|\b${WORK}\b.*\boff (?:this|the|our|my) \w+\b.*\b(?:onto|to)\b|\b(?:lighten|unburden|relieve|ease)\b.*\b(?:load|work|burden|node|machine|box)\b.*\b(?:send|sending|give|giving|pass|passing|hand|handing|move|moving)\b`), 8],
    [re(String.raw`\b${WORK}\b.*\b(?:move|moved|shift|shifted|transfer|transferred|hand|handed)\b.*\b${ELSEWHERE}\b`), 8],
    [/\b(?:balance|spread) (?:the )?(?:load|work)/, 6],
    [re(String.raw`\b(?:get|take|move|push|shift)\b (?:\w+ ){0,3}${WORK}s? off (?:this|the|our|my) (?:node|machine|box|server|host)\b|\b${WORK}\b.*\b(?:run|live|go|be) (?:elsewhere|somewhere else|on another|on a different)\b`), 8],
    [re(String.raw`^\W*(?:the |this |my )?${WORK}s? (?:to|onto) (?:a |an |the )?(?:other |another |different )?${ELSEWHERE}`), 8],
    [re(String.raw`\b${WORK}\b.*\b(?:on|to) (?:a |an |the )?(?:other |another |different )?${ELSEWHERE}\b.*\binstead\b|\b(?:give|hand|pass|send|shift|move|offload) (?:some|part|half|a bit|a share)(?: of it)? (?:to|over to) (?:the |a |an |other |another )?${ELSEWHERE}|\b(?:take|grab)\b.*\b${WORK}\b.*\b(?:put|place|move|run)\b.*\b(?:on|onto|to)\b|\b(?:peer|node|neighbor|neighbour|another|other|machine) (?:\w+ )?(?:take over|take on|pick up|handle|run|absorb|host|serve|hold) (?:this|the|some|our|my|that) (?:job|work|context|task|session|request|load)`), 8],
    [re(String.raw`\b(?:move|shift|take|push|send)\b (?:\w+ ){0,2}${WORK}s? (?:away|off)\b`), 8],
  ],
  wait: [
    [/^\W*nothing\W*$/, 8, 'normal'],
    [/^\W*(?:please |just |ok |okay |fine |then |so )*(?:wait|pause|hold on|hang on)\b|\bwait (?:for now|a bit|a while|and see|a moment|a minute)\b|\bkeep waiting\b/, 8, 'normal'],
    [/\b(?:do nothing|do not do anything|not do anything|nothing for now|no action|take no action|no changes?|change nothing|hold off|stand by|standby|sit tight|leave (?:it|things|everything|them) (?:alone|be|as|for now|like (?:that|this))|keep (?:everything|things|it) (?:as|the same|unchanged)|do not change anything|not change anything|stay put|let it be|nothing to do|not touch|leave .* alone|do not act|not act yet|just wait|let it ride|status quo|hold steady|stand down|stay as (?:we|it|things) (?:are|is)|leave (?:the |this )?\w+ as (?:it|they) (?:is|are)|(?:let us|we will|we can) wait|(?:do not|no need to|let us not|let 's not) (?:change|touch|modify|alter|do anything|do a thing|act)\b|(?:let us |we will |just )+(?:watch|observe|monitor)\b|hands off|give it (?:some |a little |a bit of )?time|(?:before|without) (?:acting|doing anything|taking action)|no action (?:is )?(?:needed|required)|(?:keep|carry) (?:going|on) as (?:is|it is|we are|before)|wait and see|hold your horses|^\W*(?:we|i|let us) (?:will |shall |can )?(?:wait|hold)\b|let (?:it|things|the system|everything|the node|the network) (?:settle|calm down|cool down|stabili[sz]e)|nothing (?:for|at) the moment|nothing right now|sit on it|ignore (?:it|this|that) for now|leave it(?=\W*$)|revisit (?:it |this |that )?later|freeze (?:everything|things|it|all)|nothing to change|stay the course|let it (?:run|ride|go on) as (?:it is|is)|do not (?:intervene|interfere)|take no (?:steps|action|measures)|^\W*no (?:tweaks|adjustments|steps|changes)\b|stay (?:like this|as is|the same)|^\W*not yet\W*$|^\W*no\W+wait)\b/, 8, 'normal'],
  ],
};

const READ_CUES: Partial<Record<Intent, Cue[]>> = {
  list_peers: [
    [/\bpeers?\b/, 3],
    [/\b(?:neighbors?|neighbours?|connections?)\b/, 3],
    [/\b(?:connect\w*|link(?:ed)?|attached|reachable|discover\w*|online|talk\w* to|known)\b/, 1.5],
    [/\b(?:members?|instances?|nodes?|machines?|computers?|hosts?|servers?|peers?|who|participants?) (?:are |is )?(?:of|in|on) (?:the |our |this )?(?:swarm|cluster|mesh|network)\b/, 3],
    [/\b(?:who|which \w+) (?:do|does|did|can|could) (?:we|you|i|this node) (?:know|see|talk to|reach)\b/, 3, 'normal'],
    [/\b(?:other|remote|else|foreign) (?:nodes?|machines?|hosts?|computers?|members?|instances?|servers?|participants?)\b|\bwho else\b/, 3],
    [/\b(?:nodes?|machines?|members?|hosts?|instances?|computers?|participants?|servers?)\b/, 1],
    [/\b(?:who|which|list|enumerate|count|number of|how many|show|display|what|tell me)\b.*\b(?:connect\w*|see|know|talk\w*|link\w*|online|nodes?|machines?|members?|hosts?|instances?|out there|around|reachable|discover\w*)\b/, 1.5],
    [/\b(?:anyone|anybody|someone|somebody|everyone|everybody|who)\b/, 1.5],
    [/\bpeer (?:table|list)\b/, 2],
    [/\b(?:buddies|buddy|friends?|company|partners?|roll call|by ourselves|on our own|hook\w* up (?:to|with)|hang\w* out with|(?:a )?line to|in touch with|boxes|besides us|apart from us|other than us|(?:everybody|everyone) (?:on|in) (?:the |our |this )?(?:network|swarm|cluster|mesh))\b/, 3, 'normal'],
    [/\b(?:swarm|cluster|network|mesh) (?:members?|participants?|nodes|peers)\b|\balone\b/, 3],
  ],
  node_status: [
    [/\bstatus\b/, 3],
    [/\bhealth\b|\b(?:un)?healthy\b|\bhealth ?check\b|\b(?:sick|unwell|ailing|struggling)\b|\b(?:good|bad) shape\b|\bcondition\b|\bvitals?\b|\bdiagnos\w*\b/, 3],
    [/\b(?:uptime|actors?|crash\w*)\b|\bbeen (?:up|running|awake|alive|on|going)\b/, 3],
    [/\b(?:pulse|sitrep|check-?up|(?:node|box|thing|machine|server|it) (?:is )?feel\w*|patient|(?:all |everything )?green|fallen over|fell over|fall over|still breathing|internals|subsystems|components|report in)\b/, 3, 'normal'],
    [/\b(?:scheduler|supervisor|api|inference actor)\b/, 2],
    [/\b(?:this|the|your|our|local) (?:node|box|machine|server|host|instance|daemon|process|service)\b/, 1.5],
    [/\b(?:daemon|version)\b/, 2],
    [/\b(?:node id|peer id|version)\b|\bsince (?:the )?(?:last )?(?:restart|reboot)|\blast (?:restart|reboot)\b|\b(?:running|going) smoothly\b/, 3, 'normal'],
    [/\bare you\b|\bhow are you\b|\byou (?:still )?(?:ok|okay|alive|fine|up|there)\b|\byour (?:status|health|state|node id|peer id|id)\b|\bam i\b/, 2, 'normal'],
    [/\bhow (?:this|the|your|our) (?:node|box|machine|server|host|instance) is\b|\bhow (?:is|are|'s) (?:the |this |your |our |my )?(?:local )?(?:node|box|machine|server|host|instance|it going|things|everything)\b|\bnode (?:ok|okay|fine|alive|up)\b|everything (?:ok|okay|fine|alright|all right)|\ball good\b/, 3, 'normal'],
    [/\b(?:alive|up|running|ok|okay|fine|doing|working|problems?|broken|wrong|restart\w*|state|report|behav\w*|in one piece|still standing|stable)\b/, 1],
    [/\bstate of (?:this|the|your|our) (?:node|box|machine|server|host|instance)\b/, 2],
    [/\b(?:wrong|problems?|issues?) with (?:you|yourself|the node|this node|this machine|this box)\b|\bcheck (?:yourself|your health|the node|this node)\b|\btell me about (?:this|the|your|our) (?:node|box|machine|server|instance)\b|\bhow are (?:we|things) (?:doing|going)\b/, 3, 'normal'],
  ],
  network_status: [
    [/\bnetwork\b/, 4],
    [/\b(?:swarm|p2p|mesh|cluster|topology|overlay|connectivity|partition\w*|split|net)\b/, 3],
    [re(String.raw`\b${HEARTBEAT}\b`), 2.5],
    [re(String.raw`\b${HEARTBEAT}\b.*\b(?:stat|stats|statistics?|numbers?|figures?|traffic|messages?)\b`), 2],
    [/\b(?:drop\w*|lost|losing|reject\w*|refused|packet loss|packets?)\b/, 2.5],
    [/\b(?:messages?|traffic|duplicates?|chatty|congest\w*)\b/, 1.5],
    [/\bpublish\w*\b/, 1.5],
    [/\b(?:get\w* through|reach(?:ing)? each other|talk\w* to each other|between (?:the )?(?:nodes|peers|machines)|net-?split|split-?brain)\b/, 3, 'normal'],
    [/\b(?:peers?|nodes?|neighbou?rs?|connections?)\b.*\b(?:lost|losing|drop\w*|disconnect\w*|gone|went away|churn\w*|flapping)\b|\b(?:lost|losing|dropp\w*)\b.*\b(?:peers?|nodes?|connections?)\b/, 3, 'normal'],
    [re(String.raw`\b(?:who|which (?:node|peer|one|machine)) (?:is|'s|runs|holds|has|plays) (?:the )?(?:${COORDINATOR}|leading)\b|\bwhere (?:does|do|is|are) (?:this|the|that|my|our) (?:context|session)s? (?:live|run|sit|reside|now)?\b`), 4],
    [/\belections?\b/, 3],
    [/\b(?:big|overall|whole|general) picture\b|\bbird 's eye\b|\blay of the land\b/, 4, 'normal'],
    [/\b(?:network|swarm|p2p|mesh|cluster|overlay|gossip|net)\b.*\b(?:health\w*|status|state|stable|ok)\b/, 1.5],
    [/\b(?:status|health\w*|state)\b.*\b(?:all|every|each) (?:the |our )?(?:nodes?|peers?|machines?)\b/, 4],
    [/\b(?:overview|whole|overall|summary|stable|across)\b/, 1],
    [re(String.raw`\b${COORDINATOR}\b`), 2.5],
  ],
  queue_status: [
    [/\bqueue\b/, 3],
    [/\b(?:jobs?|tasks?)\b/, 3],
    [/\bbacklog\b|\bworkload\b/, 3],
    [/\b(?:pending|wait|waiting|in progress|in flight|in-flight|inflight|running|finish\w*|complet\w*|stuck|pil\w+ up|queued|processed)\b/, 1.5],
    [/\bwait\w* to (?:run|start|be)\b|\bslots?\b|\bbeing (?:processed|run|handled|worked on)\b|\bheadroom\b/, 2.5],
    [/\b(?:work|requests?)\b/, 1.5],
    [/\b(?:depth|full|empty|length|capacity|size|room|busy|big|large|long|small)\b/, 1],
    [/\b(?:queue|job) (?:status|history)\b/, 2],
    [/\bqueue (?:utili[sz]ation|usage|load|occupancy|fill|level)\b/, 4],
    [/\b(?:pipeline|outstanding|in the hopper|in line|the line|in flight|in-flight|to-?do|pile\w*|stack\w* up|lined up|tied up|sit\w* (?:around|idle|there)|not (?:being )?(?:served|processed|handled|picked up)|unserved|unprocessed|busy with|work\w* on|what did (?:the |this |our )?(?:node|you|it|we) (?:finish|complete|process|run|handle))\b/, 3, 'normal'],
    [/\bbeing (?:migrated|moved|transferred)\b|\b(?:migrating|moving|transferring) (?:anything|something|any)\b/, 2.5, 'normal'],
    [/\bwhat (?:is|are|'s) (?:running|processing|executing|in progress|being done|pending|queued|waiting|outstanding)\b|\bmigrations? (?:going on|in progress|running|under way|underway)\b|\bwhat (?:has |have )?(?:finished|completed|ran|run|failed)\b/, 3, 'normal'],
  ],
  list_models: [
    [/\bmodels?\b/, 5],
    [/\b(?:llms?|gguf\w*|weights|checkpoints?|language models?|brains|ais|llama|mistral|qwen|gemma|smollm)\b|\bai (?:models?|engines?)\b|\bmodel-?wise\b/, 5, 'normal'],
    [/\b(?:which|what) (?:ais|models?|llms?|brains)\b/, 3, 'normal'],
    [/\bgenerate (?:text|tokens|answers|completions)\b|\brun inference (?:on|with)\b|\bwhat (?:do |are )?(?:we|you) (?:are )?(?:serv\w*|offer\w*|host\w*)\b/, 5, 'normal'],
    [/\b(?:networks? (?:are |is )?(?:loaded|served)|(?:loaded|served) networks?)\b/, 5, 'normal'],
    [/\b(?:serve|served|serving|load|loaded|host\w*|available|install\w*|run|running|use)\b/, 1],
  ],
  show_metrics: [
    [/\bmetrics?\b/, 4],
    [/\b(?:stats?|statistics?|numbers|figures|performance|telemetry|counters?|measurements?|readings?)\b/, 3],
    [/\b(?:cpu|memory|mem|ram|latency|throughput|rtt|ping|round trip|utili[sz]ation|usage|resources?|processor)\b/, 6],
    [/\b(?:load|loaded)\b/, 3],
    [/\b(?:lag|lags|laggy|lagging|delays?|delayed|snappy|sluggish|tokens? (?:per|a|\/) ?(?:second|sec|s)|tok\/s|stress\w*|strain\w*|in numbers|round ?-? ?trip|milliseconds|ms|slowest|fastest|quickest|laggiest|how far away)\b/, 6, 'normal'],
    [/\b(?:peers?|nodes?|neighbou?rs?|network|responses?|replies|models?)\b (?:are |is |seem |feel )?(?:\w+ )?(?:slow|sluggish|laggy)\b/, 7, 'normal'],
    [/\b(?:gauges?|gages?|dashboard|run\w* hot|overheat\w*|sweat\w*|on fire)\b/, 4, 'normal'],
    [/\b(?:how many|how much|number of|count of|how often|share|percentage|proportion|fraction|ratio)\b.*\b(?:fail(?:ed|ing|s)?|time ?outs?|timing out|timed out)\b|\bfail(?:ed|ing|s)? (?:count|so far)\b/, 5, 'normal'],
    [/\b(?:how fast|how quick\w*|how slow\w*|how busy|responsive\w*|response time|respond\w*)\b/, 3.5],
    [/\b(?:free|used|left|pressure|overload\w*|low)\b/, 1],
    [/\b(?:failures?|errors?|fallbacks?|fall back|falls back|cache hits?|hit rate)\b/, 6],
    [/\bhow (?:often|many times)\b/, 1],
    [/\bhow many decisions\b/, 7],
  ],
  explain_decisions: [
    [/\bdecisions?\b|\bdecided\b/, 3],
    [/\b(?:why|reasoning|reasons?|rationale|justify|justification)\b/, 3],
    [/\bexplain\b.*\b(?:decisions?|actions?|reasoning|choices?|that|this|it|yourself|changes?|why|what you|moves?|steps?|calls?)\b/, 2],
    [/\b(?:did|have|has) (?:you|the orchestrator|it)\b|\b(?:what|which) (?:actions?|changes?|decisions?) (?:did|have|has)\b|\byou (?:did|decided|changed|have done|have changed|have taken|took|made)\b/, 2.5, 'normal'],
    [/\b(?:history|recent|recently|lately|last|past|previous|earlier|taken|log|held|latest)\b/, 1],
    [/\borchestrator\b/, 1],
    [/\b(?:autopilot|auto-pilot|automation|controller)\b/, 1.5],
    [DONE, 4, 'normal'],
    [/\bwhat (?:led (?:to|you)|caused|prompted|triggered)\b/, 4, 'normal'],
    [/\b(?:moves?|actions?|decisions?|choices?|steps?|calls?) of (?:the orchestrator|the autopilot|the controller)\b/, 4, 'normal'],
    [/\bwhat (?:has|have) (?:been )?(?:changed|done)\b|\bthe last (?:election|migration|change|decision|action)\b|\bconfirm and explain\b|\bwhen (?:was|did) (?:the )?(?:last )?(?:\w+ )?(?:election|migration|change|decision|action)\b|\b(?:orchestrator|autopilot|it|you) (?:is |are )?think\w*|\bwhat (?:are|is) (?:you|it|the orchestrator) (?:planning|up to)\b/, 4, 'normal'],
    [/\b(?:actions? taken|on my behalf|automatic\w*|by itself|audit)\b/, 3, 'normal'],
    [/\bwhat made (?:you|it|the orchestrator|the autopilot)\b|\bwhat (?:did|has) the (?:autopilot|automation|controller)\b/, 4, 'normal'],
    [/\b(?:your|its|the orchestrator 's) (?:(?:recent|last|latest|past|previous|few|couple of|\w+) ){0,2}(?:actions?|decisions?|choices?|changes?|moves?|steps?|calls?)\b|\baccount for\b|\b(?:orchestrator|it) (?:did|has done|has changed)\b/, 3, 'normal'],
    [/\borchestrator\W+(?:history|log|activity|actions?)\b|\b(?:decision|action) (?:history|log)\b|\bwhat (?:has|have) the orchestrator\b/, 3],
    [/\b(?:what happen(?:ed)?(?: to| with)?|why (?:did|was|were|has|is))\b/, 2, 'normal'],
  ],
  decide: [
    [/\b(?:should (?:i|we|you|it|the|this|that)|what should be done|what can be done|what needs to be done|what should happen|(?:which|what) (?:nodes?|peers?|machines?|hosts?|executors?) should|(?:how|where|who) should|recommend\w*|suggest\w*|(?<!(?:for|thanks for) (?:the |your )?)advice|advise|what now|what to do|what do (?:i|we) do|best (?:action|move|option|thing to do|course|node|peer|machine|host|place)|what would you (?:do|suggest|recommend)|what action would you|what would (?:the orchestrator|it) (?:do|suggest|recommend)|\b(?:cost|costs) (?:more|less|us)\b|going to (?:cost|help|hurt|break)|how (?:would|do|can) (?:i|we|you) (?:handle|deal|fix|solve|cope|approach|react|respond)|time to act|any ideas? what|best (?:placed|suited|fit)|(?:right|correct|smart|best|next) (?:move|call|step|thing to do)|should (?:\w+ )?do\b|propos\w*|verdict|your (?:call|take|view|opinion)|course of action|plan of action|how (?:should|shall) (?:we|i) proceed|which \w+ should (?:be|get)\b|(?:where|which|how|what) would you (?:route|send|put|place|do|run|choose|pick|suggest|recommend|propose|move)|where (?:do|does|would|could|can) (?:\w+ ){0,3}go best|your move|(?:smart|wise|sensible) (?:thing|move|choice|call)|what you would (?:do|suggest|recommend)|best off|game plan|not sure (?:whether|if)|thoughts\W*$|your thoughts|what do you think|whether (?:to|i should|we should)|what would be (?:sensible|best|wise|smart|right|good)|(?:which|what) \w+ (?:could|should|can|might) be (?:moved|migrated|shifted|offloaded)|how to (?:fix|solve|handle|deal with|resolve|sort out|cope with)|(?:good|bad|smart|wise) idea|best way|(?:do|would) (?:we|i) (?:need|have|want) (?:to|a|an|more|another)|what (?:happens|would happen|will happen)\b.*\bif\b|\b(?:would|will|could|does|do) (?:\w+ing) (?:it|the|this|that|a|an)\b|is it (?:worth|wise|time to)|would it (?:help|be wise|make sense)|(?:would|will|could|might|does|do) (?!you |me |someone |anyone |somebody )(?:\w+ ){1,4}help(?=\W*$))\b/, 10, 'normal'],
    [/\b(?:make|take|give me|need|want|request|ask for|for) (?:a |an )?(?:\w+ ){0,2}decision\b|^\W*decide\b|\bplease decide\b|\b(?:can|could|would|will) you (?:please )?decide\b|\bdecide (?:what|how|where|whether|which|on)\b/, 10, 'normal'],
  ],
  help: [
    [/\b(?:help|capabilities|capability|what (?:can you|you can|can this|can it) do|how do i use|how does this work|what are my options|examples?|things you (?:understand|know|can do|support)|what you understand|(?:you|this \w+|it) understands?|interface understands?|intents? (?:you|do you)|how to use (?:you|this|it)|options|instructions|manual|documentation|how does one use)\b|\bhow (?:do|can|should) i (?:use|talk to|talk with|communicate with|interact with|work with|ask|speak to|speak with) (?:you|this)\b/, 5, 'normal'],
    [/\bwhat (?:should|can|do|could) i (?:type|say|ask|write|enter)\b/, 11, 'normal'],
    [/^\W*usage\W*$/, 7, 'normal'],
    [/\b(?:your (?:abilities|skills|features)|how does this (?:ask |\w+ )?(?:thing|interface|tool|command|prompt) work)\b/, 5, 'normal'],
    [/\b(?:commands|what do you (?:know|understand|support)|what (?:can i|i can) (?:ask|say|do|type)|^\W*how to use\W*$|what (?:kind|sort|type)s? of (?:request|question|command|thing)s?|what are you (?:able|capable)|what (?:request|command|question)s? (?:do|can) you|what are you for|^\W*guide me\W*$|what features|what does (?:ask|this) do\b|what you are (?:able|capable)|remind me what you|what is this (?:tool )?for|how to (?:ask|use|talk to) you)\b/, 5, 'normal'],
    [/^\s*\?+\s*$/, 5, 'normal'],
  ],
};

/** Below this best score the sentence is not understood (intent `unknown`). */
const MIN_SCORE = 2.5;

function score(cues: Cue[] | undefined, r: Reading): number {
  // Lemmas and normal text on two lines: a pattern matches within one of them, never across.
  const both = `${r.lemmas}\n${r.normal}`;
  return (cues ?? []).reduce((s, c) => (c[0].test(c[2] === 'normal' ? r.normal : both) ? s + c[1] : s), 0);
}

const ACTIONS = new Set<Intent>(['scale_queue', 'adjust_gossip', 'start_election', 'migrate_context', 'wait']);

/** The rule-based interpreter: deterministic, no model. */
export function readByRules(text: string): RuleReading {
  const r = readSentence(text);
  if (OUT_OF_DOMAIN.test(r.normal) || OUT_OF_DOMAIN.test(r.lemmas) || DEFINITION.test(r.normal)) return { intent: 'unknown', args: {}, confidence: 0 };
  // A question about what was done ("why did you scale…") asks for an explanation, not the act;
  // a question about a state ("is the queue big enough?") asks to be answered. Each sentence's
  // form counts: one that is not a question may ask for the act ("Is the queue full? If so,
  // double it."), read with the text before it, so that "it" still finds the queue.
  const sentences = r.normal.split(/(?<=[.!?;])\s+(?=\w)/);
  const requests: Reading[] = [];
  sentences.forEach((sentence, i) => {
    const last = sentence.endsWith('?') ? sentence.split(/,\s+/).at(-1)! : sentence;
    if ((QUESTION.test(sentence) && !REQUEST.test(sentence)) || (QUESTION.test(last) && !REQUEST.test(last))) return;
    requests.push(i === sentences.length - 1 ? r : readSentence(sentences.slice(0, i + 1).join(' ')));
  });
  const past = /\b(?:why|when) (?:did|have|has|was|were)\b|\b(?:did|have) you\b|\bwhat happened\b|\bwhat (?:made|led) (?:you|it)\b|\bwhat led to\b/.test(r.normal) || DONE.test(r.normal);
  // Asking for advice ("…, what do you suggest?") is not a command either; advice about
  // something outside the node ("recommend a podcast") is not for the node.
  const advice = READ_CUES.decide![0]![0].test(r.normal);
  const forNode = DOMAIN.test(`${r.lemmas}\n${r.normal}`) || BARE_ADVICE.test(r.normal);
  const scores: Array<[Intent, number]> = [];
  for (const name of Object.keys(READ_CUES).concat(Object.keys(ACTION_CUES)) as Intent[]) {
    if (scores.some(([n]) => n === name)) continue;
    const action = ACTIONS.has(name) && !past && !advice ? Math.max(0, ...requests.map((q) => score(ACTION_CUES[name], q))) : 0;
    scores.push([name, name === 'decide' && !forNode ? 0 : action + score(READ_CUES[name], r)]);
  }
  let best: [Intent, number] = ['unknown', 0];
  let second = 0;
  for (const s of scores) {
    if (s[1] > best[1]) { second = best[1]; best = s; } else if (s[1] > second) second = s[1];
  }
  const intent: Intent = best[1] >= MIN_SCORE ? best[0] : 'unknown';
  const margin = best[1] - second;
  const confidence = intent === 'unknown' ? 0 : Math.min(0.9, 0.5 + 0.1 * margin + 0.05 * best[1]);
  return { intent, args: argsOf(intent, r), confidence: Number(confidence.toFixed(2)) };
}

// --- arguments --------------------------------------------------------------------------------

const NUMBER_WORDS: Record<string, number> = { two: 2, three: 3, four: 4, five: 5, ten: 10 };
const NUM = String.raw`(\d+(?:\.\d+)?|two|three|four|five|ten)`;
const num = (s: string) => NUMBER_WORDS[s] ?? Number(s);
const round = (x: number) => Number(x.toFixed(2));

/** Arguments an intent takes, read from the sentence. */
export function extractArgs(intent: Intent, text: string): IntentArgs {
  return argsOf(intent, readSentence(text));
}

/**
 * The clause an argument is read from: the last one asking for the change, else the last one
 * naming what changes — so a figure given as background ("the CPU is at 90 %; double the
 * queue") is not taken for the argument.
 */
function focus(t: string, about: RegExp): string {
  const parts = clauses(t);
  return parts.filter((c) => ASKS_CHANGE.test(c)).at(-1) ?? parts.filter((c) => about.test(c)).at(-1) ?? t;
}

const clauses = (t: string) => t.split(/\s*(?:[.!?;]|,|\band\b|\bbut\b|\bso\b)\s+/);

const ASKS_CHANGE = re(String.raw`\b(?:${CHANGE.slice(3, -1)}|speed|slow|quicken|ease|back off|tone|calm|throttle)\w*\b`);

const QUEUE_WORDS = /\b(?:queue|backlog|capacity|jobs|double|doubled|twice|halve|halved|half|triple|tripled|bigger|larger|smaller)\b/;
const GOSSIP_WORDS = /\b(?:heartbeats?|gossip\w*|hb|interval|often|frequen\w*|rate|faster|slower|quicker|speed|slow)\b/;

function argsOf(intent: Intent, r: Reading): IntentArgs {
  if (intent === 'scale_queue') return queueArgs(r.normal);
  if (intent === 'adjust_gossip') return { heartbeat_factor: gossipFactor(focus(r.normal, GOSSIP_WORDS)) };
  if (intent === 'decide') return { decision_type: decisionType(`${r.lemmas}\n${r.normal}`) };
  return {};
}

const SMALLER = /\b(?:shrink|shrinking|reduce|reducing|decrease|decreasing|lower|lowering|cut|cutting|smaller|shorter|fewer|less|down|trim|trimming|narrow|narrower|tighten)\b/;

/** scale_queue: { capacity } when a number is the new capacity, else { factor }. */
function queueArgs(text: string): IntentArgs {
  const focused = focus(text, QUEUE_WORDS);
  // A clause asking for the change without a figure ("…should be 120, change it") takes the
  // figure from the clause about the queue.
  const figure = clauses(text).filter((c) => /\d/.test(c) && QUEUE_WORDS.test(c)).at(-1);
  return queueFigures(focused) ?? (figure !== undefined ? queueFigures(figure) : undefined) ?? queueDirection(focused);
}

/** A capacity or factor the words give explicitly; undefined when they give only a direction. */
function queueFigures(t: string): IntentArgs | undefined {
  const explicit = t.match(new RegExp(String.raw`\b(?:factor|multiplier)(?: of)? ${NUM}\b|\b${NUM} ?(?:x|times)(?![\w])|\b(?:x|times) ?${NUM}\b|\b(?:multiply|scale|grow|increase|enlarge|expand)\b.*\bby (\d+(?:\.\d+)?)(?! ?%)(?![\w.])`));
  if (explicit) {
    const f = num((explicit[1] ?? explicit[2] ?? explicit[3] ?? explicit[4])!);
    if (f > 0 && (explicit[4] === undefined || f <= 10)) return { factor: f };
  }
  const pct = t.match(/(\d+(?:\.\d+)?) ?(?:%|percent|per cent)/);
  if (pct) {
    const p = Number(pct[1]) / 100;
    return { factor: round(SMALLER.test(t) ? Math.max(0.01, 1 - p) : 1 + p) };
  }
  const capacity = [...t.matchAll(/(?<![\w.])(\d+)(?![\w.]|\s?%)/g)].map((m) => Number(m[1])).find((n) => n >= 1);
  if (capacity !== undefined) return { capacity };
  if (/\b(?:double|doubled|doubling|twice|two times)\b/.test(t)) return { factor: 2 };
  if (/\b(?:triple|tripled|tripling|thrice|three times)\b/.test(t)) return { factor: 3 };
  if (/\b(?:quadruple|quadrupled|four times)\b/.test(t)) return { factor: 4 };
  if (/\b(?:halve|halved|halving|half|in two)\b/.test(t)) return { factor: 0.5 };
  return undefined;
}

function queueDirection(t: string): IntentArgs {
  return { factor: SMALLER.test(t) ? 0.75 : 1.5 };
}

const FASTER = /\b(?:faster|fast|quicker|quickly|quick|speed up|speed \w+ up|sped up|more often|more frequent|more frequently|accelerate|rapid|shorten|shorter|sooner|more heartbeats|(?:gossip|heartbeat) more)\b|\b(?:increase|raise|boost) (?:the )?(?:heartbeats?|gossip)\b(?! interval| period)|\b(?:increase|increasing|raise|raising)\b.*\bhow often\b|\b(?:increase|increasing|raise|raising|boost|double|doubling|up|quicken)\b.*\b(?:frequency|rate|cadence|pace|tempo)\b|\bquicken\b|\b(?:reduce|reducing|decrease|decreasing|lower|lowering|cut|cutting|shrink|shrinking|halve|halving)\b.*\b(?:interval|period|delay|gap|time between)\b/;
const SLOWER = /\b(?:slower|slow \w+ down|slow|slow down|slowed down|slowly|less often|less frequent|less frequently|lengthen|lengthened|longer|rarer|less|fewer|space\w* (?:\w+ ){0,3}out)\b|\b(?:reduce|reducing|decrease|decreasing|lower|lowering|cut|cutting)\b.*\bhow often\b|\b(?:reduce|reducing|decrease|decreasing|lower|lowering|cut|cutting|halve|halving)\b.*\b(?:frequency|rate|cadence|pace|tempo)\b|\b(?:ease off|back off|tone down|calm down|less chatty)\b|\b(?:reduce|decrease|lower|cut) (?:the )?(?:heartbeats?|gossip)\b(?! interval| period)|\b(?:increase|increasing|raise|raising|extend|extending|double|doubling|stretch)\b.*\b(?:interval|period|delay|gap|time between)\b/;

/**
 * adjust_gossip: the multiplier of the heartbeat INTERVAL (< 1 faster). "Twice as often" and
 * "halve the interval" are 0.5; "half as often" and "double the interval" are 2; a bare
 * "faster" 0.75 and "slower" 1.5.
 */
function gossipFactor(t: string): number {
  const interval = /\b(?:interval|period|delay|gap|time between|pause between)\b/.test(t);
  const rate = /\b(?:frequency|rate|often|frequently|heartbeats per|cadence|pace|tempo|speed)\b/.test(t);
  // "N times as often" / "half as often"
  const asOften = t.match(new RegExp(String.raw`\b(twice|half|${NUM} times) as (?:often|frequently|fast|quickly|many)\b`));
  if (asOften) return asOften[1] === 'half' ? 2 : round(1 / (asOften[1] === 'twice' ? 2 : num(asOften[2]!)));
  // "the interval twice as long" / "N times longer|shorter"
  const asLong = t.match(new RegExp(String.raw`\b(twice|half|${NUM} times) as (long|short|slow)\b|\b${NUM} ?(?:times|x) (longer|shorter|slower|faster|quicker)\b`));
  if (asLong) {
    const n = asLong[1] === 'twice' ? 2 : asLong[1] === 'half' ? 0.5 : num((asLong[2] ?? asLong[4])!);
    const shorter = /short|fast|quick/.test((asLong[3] ?? asLong[5])!);
    return round(asLong[1] === 'half' ? (asLong[3] === 'long' || asLong[3] === 'slow' ? 0.5 : 2) : shorter ? 1 / n : n);
  }
  const faster = FASTER.test(t);
  const slower = !faster && SLOWER.test(t);
  const explicit = t.match(new RegExp(String.raw`\b(?:factor|multiplier)(?: of| to| =)? (\d+(?:\.\d+)?)\b|\bby (\d+(?:\.\d+)?) ?(?:x|times)?(?![\w.])|\b(\d+(?:\.\d+)?) ?(?:x|times)(?![\w])|\bx ?(\d+(?:\.\d+)?)\b`));
  if (explicit) {
    const f = Number(explicit[1] ?? explicit[2] ?? explicit[3] ?? explicit[4]);
    if (f > 0) {
      if (faster && f > 1) return round(1 / f);
      if (slower && f < 1) return round(1 / f);
      return f;
    }
  }
  // "halve / double / quarter" the interval (a multiplier of it) or the rate (its inverse)
  const word = t.match(/\b(halve|halved|halving|half|double|doubled|doubling|twice|quarter|quartered|triple|tripled)\b/);
  if (word) {
    const m = { halve: 0.5, halved: 0.5, halving: 0.5, half: 0.5, double: 2, doubled: 2, doubling: 2, twice: 2, quarter: 0.25, quartered: 0.25, triple: 3, tripled: 3 }[word[1] as 'half'];
    if (interval && !rate) return m;
    if (rate || /\bheartbeats\b/.test(t)) return round(1 / m);
    return faster ? Math.min(m, 1 / m) : slower ? Math.max(m, 1 / m) : m;
  }
  if (slower) return 1.5;
  return 0.75;
}

/** decide: job_routing (where jobs go), context (memory, where models/contexts live), or infrastructure. */
function decisionType(l: string): DecisionType {
  if (/\b(?:memory|ram|contexts?|evict\w*|unload\w*|out of memory|oom|swap)\b|\bwhere should .*\bmodels?\b|\bmodels?\b.*\b(?:live|placement|place|keep|hold|store|host|load|put)\b|\b(?:host|load|put|place|keep|store|hold)\w* (?:the |this |a |that )?models?\b/.test(l)) return 'context';
  if (/\b(?:rout\w*|dispatch\w*|assign\w*|placement)\b|\b(?:which|what|best) (?:node|peer|machine|host|executor)\b|\bwhere should\b.*\b(?:job|work|request|task)\b|\b(?:job|work|request|task)\b.*\bwhere\b|\bwho should (?:run|take|handle|get|do|execute|serve)\b|\bbest (?:placed|suited)\b|\bdistribut\w*\b|\bwhere\b.*\b(?:jobs?|work|requests?|tasks?)\b.*\b(?:run|go|execute|be sent|land)\b|\b(?:a|which|what|best) (?:node|peer|machine|host)s? (?:for|to run|to take|to handle)\b|\bwhere (?:do|does|should|will|can|would)\b.*\b(?:jobs?|work|requests?|tasks?)\b|\b(?:jobs?|work|requests?|tasks?)\b.*\bgo\b|\bsend (?:the |new |incoming )?(?:job|request|task|work)\b/.test(l)) return 'job_routing';
  return 'infrastructure';
}
