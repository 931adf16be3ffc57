//! Deterministic generator of a realistic corpus of Hexo-style posts, shaped
//! like the Sina Finance articles that the RSS-to-Hexo pipeline writes (see
//! `examples/posts/金融/新浪财经/`).
//!
//! ```text
//! cargo run --release --example gen_corpus -- --posts N --out DIR [--seed S] [--force]
//! ```
//!
//! The same `--seed` (default 1) and `--posts` give byte-identical output on
//! any machine and with any number of threads: every post draws from its own
//! splitmix64 stream derived from `(seed, index)`, and the only steps that
//! look at several posts at once (making titles unique, numbering the part
//! folders) run sequentially in index order.
//!
//! # Layout
//!
//! ```text
//! DIR/<category>/<sub-category>/<sub-sub-category>/part-NNN/<title>.md
//! ```
//!
//! The folders above `part-NNN` are the post's category path (1 to 3 levels,
//! the same list as its `categories:` front matter), so the hierarchy is
//! visible in the tree the way the real pipeline writes it. Within one
//! category the posts are numbered in index order and post `k` goes to
//! `part-{k / 1000:03}`, so no folder holds more than 1,000 files. Folders
//! only ever hold either sub-folders or posts. The file name is the title,
//! which is unique across the corpus. A `/` or `\` in a folder or file name
//! becomes `_` and a leading `.` gets a `_` prefix (none of the built-in
//! names need it). `--force` allows writing into a non-empty `DIR`; it
//! overwrites same-named files and deletes nothing.
//!
//! # Shape of a post
//!
//! A leading blank line, `---`, then `title` (single-quoted, `'` doubled),
//! `categories` (block list of the 1 to 3 names of a root-to-node path of a
//! fixed ~200-node tree; nodes are drawn Zipf-like, weight 1/rank, so a few
//! categories get most posts), `headimg`, `author`, `comments: false`,
//! `date` (uniform over 2019-01-01..=2023-12-31 in RFC 2822: ~93% `GMT`,
//! ~5% `+0800`, ~2% `CST`, the last two in China time), `thumbnail`, `---`,
//! a blank line and the HTML body: `<div>   `, in ~15% of posts a Sina
//! `img_wrapper` image (which then is also the `headimg`/`thumbnail`;
//! otherwise those are the QR code image, as in the reference), then
//! `<p>　　…</p>` paragraphs of Chinese text until the article part (from
//! `<div>` to the last `</p>`) reaches a target drawn uniformly from
//! 1 KiB..=8 KiB (it overshoots by at most one sentence), then the
//! reference article's boilerplate tail (comments, `<style>` with
//! `&#123;`/`&#125;`, QR `appendQr_wrap` div, `article-editor`, `</div>`).
//! Text is built from the fixed vocabulary below with Chinese punctuation,
//! numbers and dates. Titles are 8 to 30 characters from the same
//! vocabulary.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Datelike, Utc};
use clap::Parser;
use rayon::prelude::*;

#[derive(Parser)]
#[command(about = "Generate a deterministic corpus of realistic Hexo posts")]
struct Args {
    /// Number of posts to write.
    #[arg(long)]
    posts: u64,
    /// Output folder (created; must be empty unless --force).
    #[arg(long)]
    out: PathBuf,
    /// Seed of the generator; same seed and --posts give identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write into a non-empty folder (overwrites, deletes nothing).
    #[arg(long)]
    force: bool,
}

// ---------------------------------------------------------------------------
// PRNG: splitmix64, one stream per (seed, post index, purpose).

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Rng(u64);

impl Rng {
    fn new(seed: u64, index: u64, stream: u64) -> Self {
        let s = mix(seed.wrapping_add(0x9E37_79B9_7F4A_7C15));
        let s = mix(s ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Rng(mix(s ^ stream
            .wrapping_add(1)
            .wrapping_mul(0x8CB9_2BA7_2F3D_8DD7)))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `pct` percent.
    fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn word(&mut self, words: &[&'static str]) -> &'static str {
        words[self.below(words.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------
// Vocabulary (data tables, kept compact: `rustfmt::skip`).

#[rustfmt::skip]
const SUBJECTS: &[&str] = &[
    "国家统计局", "中国人民银行", "央行", "财政部", "商务部", "工业和信息化部", "国家发展改革委",
    "证监会", "银保监会", "国务院常务会议", "海关总署", "国家能源局", "上海证券交易所",
    "深圳证券交易所", "北京证券交易所", "中国证券业协会", "多家券商", "分析人士", "业内专家",
    "市场人士", "机构投资者", "外资机构", "北向资金", "公募基金", "私募机构", "保险资金",
    "上市公司", "龙头企业", "中小企业", "民营企业", "国有企业", "地方政府", "各地区", "有关部门",
    "监管部门", "商业银行", "大型银行", "城商行", "信托公司", "该公司", "公司董事会", "董事长",
    "总经理", "首席经济学家", "研究员", "分析师", "投资者", "消费者", "制造业企业", "科技企业",
    "互联网平台", "新能源车企", "芯片厂商", "光伏企业", "房地产企业", "物业公司", "航空公司",
    "港口企业", "外贸企业", "跨境电商平台", "国际货币基金组织", "世界银行", "美联储", "欧洲央行",
    "日本央行", "穆迪", "标普", "惠誉", "Moody's", "高盛", "摩根士丹利", "瑞银", "华为", "小米",
    "腾讯", "阿里巴巴", "京东", "比亚迪", "宁德时代", "贵州茅台", "招商银行", "中国平安",
    "工商银行", "新浪财经", "记者",
];

#[rustfmt::skip]
const VERBS: &[&str] = &[
    "发布", "召开", "推进", "加快", "完善", "加强", "落实", "部署", "推动", "支持", "鼓励", "引导",
    "出台", "实施", "调整", "下调", "上调", "维持", "扩大", "优化", "提升", "降低", "稳定", "深化",
    "强化", "防范", "化解", "关注", "研判", "披露", "公告", "宣布", "启动", "完成", "签署", "收购",
    "投资", "布局", "发力", "聚焦", "拓展", "增持", "减持", "回购", "募集", "发行", "申报",
    "审议通过", "印发", "开展", "建设", "打造", "培育", "释放", "提振", "带动", "助力", "保障",
    "规范", "整治",
];

#[rustfmt::skip]
const ADVERBS: &[&str] = &[
    "进一步", "持续", "加快", "积极", "稳步", "全面", "大力", "切实", "有序", "不断", "继续", "着力",
    "有效", "逐步", "明显", "显著", "较快", "稳妥", "加大力度", "统筹", "坚决", "深入", "扎实",
    "率先", "同步", "重点", "密集", "首次", "再次", "正式", "将", "已", "正在", "拟",
];

#[rustfmt::skip]
const MODIFIERS: &[&str] = &[
    "高质量", "数字化", "绿色低碳", "重点", "中长期", "结构性", "系统性", "区域性", "跨境", "新型",
    "传统", "战略性", "基础性", "市场化", "法治化", "国际化", "全产业链", "上下游", "核心", "关键",
    "新一代", "多层次", "普惠", "长期", "短期", "稳健的", "灵活适度的", "积极的", "阶段性",
    "常态化", "前瞻性", "创新型", "智能化", "规模化", "专业化", "综合性",
];

#[rustfmt::skip]
const OBJECTS: &[&str] = &[
    "经济运行", "工业经济", "货币政策", "财政政策", "产业政策", "金融风险", "金融市场", "资本市场",
    "债券市场", "股票市场", "外汇市场", "大宗商品", "原材料价格", "供应链", "产业链", "制造业",
    "服务业", "实体经济", "数字经济", "平台经济", "消费需求", "有效投资", "外贸出口", "进出口总额",
    "社会融资规模", "信贷投放", "贷款利率", "存款利率", "市场利率", "流动性", "人民币汇率",
    "美元指数", "通胀预期", "就业形势", "居民收入", "营业收入", "净利润", "毛利率", "现金流",
    "市盈率", "成交额", "融资余额", "市场份额", "研发投入", "技术创新", "科技成果转化", "知识产权",
    "营商环境", "市场主体", "中小微企业", "个体工商户", "新能源汽车", "动力电池", "光伏组件",
    "风电装机", "储能", "芯片", "半导体", "集成电路", "人工智能", "大数据", "云计算", "工业互联网",
    "5G基站", "数据中心", "基础设施", "新基建", "城市更新", "保障性住房", "房地产市场", "土地出让",
    "商品房销售", "住房贷款", "专项债券", "地方债", "减税降费", "社保基金", "养老金", "医保",
    "碳排放", "碳达峰", "碳中和", "能源结构", "煤炭价格", "电力供应", "粮食安全", "农产品价格",
    "生猪价格", "物流运输", "港口吞吐量", "集装箱运价", "旅游消费", "餐饮收入",
    "社会消费品零售总额", "居民消费价格指数", "工业生产者出厂价格", "采购经理指数",
    "固定资产投资", "国内生产总值", "外商直接投资", "对外投资", "跨境资本流动", "公司治理",
    "信息披露", "内幕交易", "退市制度", "注册制改革", "并购重组", "股权激励", "员工持股计划",
    "分红方案", "年度报告", "业绩预告", "定向增发", "可转债", "理财产品", "公募基金产品",
    "资产配置", "风险隐患", "苗头性问题", "监管规则", "行业标准", "发展规划", "重点任务",
    "政策建议", "工作方案", "试点项目", "合作协议", "战略合作", "生产经营", "复工复产", "市场预期",
    "投资者信心", "市场情绪",
];

#[rustfmt::skip]
const SAYS: &[&str] = &["表示", "指出", "强调", "认为", "介绍", "要求", "透露", "预计"];

#[rustfmt::skip]
const SLOGANS: &[&str] = &[
    "六稳", "六保", "双碳", "专精特新", "放管服", "一带一路", "十四五", "双循环", "稳增长",
    "保交楼", "房住不炒", "东数西算",
];

const DOCS: &[&str] = &[
    "政府工作报告",
    "关于进一步优化营商环境的意见",
    "关于促进消费扩容提质的实施意见",
    "十四五规划纲要",
    "关于金融支持实体经济发展的指导意见",
    "上市公司信息披露管理办法",
    "关于加快建设全国统一大市场的意见",
];

const TAIL_NOUNS: &[&str] = &["领域", "行业", "问题", "方面", "环节", "板块", "项目"];

#[rustfmt::skip]
const TITLE_SUFFIXES: &[&str] = &[
    "座谈会", "情况通报", "专项行动", "工作会议", "实施方案", "新闻发布会", "调研报告", "试点",
];

const WECHAT: &[&str] = &["工信微报", "央行发布", "证监会发布", "发改委", "商务微新闻"];

#[rustfmt::skip]
const AUTHORS: &[&str] = &[
    "新浪财经", "新浪科技", "新浪证券", "新浪财经综合", "上海证券报", "中国证券报", "证券时报",
    "第一财经", "21世纪经济报道", "经济观察报", "财联社", "界面新闻", "澎湃新闻",
];

#[rustfmt::skip]
const EDITORS: &[&str] = &[
    "王翔", "李铁民", "张恒星", "刘万里", "陈志杰", "杨赐", "赵思远", "孙朝晖", "周文猛", "吴剑雄",
    "徐倩", "朱赫楠", "马秀岚", "胡晓", "郭明煜", "何俊熹", "林伟", "罗知之", "高佳", "梁斌",
    "宋雅芳", "郑平", "谢晨星", "韩希宇", "唐婧", "冯璐", "于健", "董云龙", "萧锐", "程琳",
    "曹睿潼", "袁君", "邓悦", "许明", "傅聪", "沈长征", "曾争", "彭静", "吕秀娟", "苏扬",
];

const QR_IMAGE: &str = "https://n.sinaimg.cn/finance/cece9e13/20200514/343233024.png";

/// The category tree, one node a line, depth = number of leading spaces.
const CATEGORY_TREE: &[&str] = &[
    "金融",
    " 新浪财经",
    "  新浪财经－国內",
    "  新浪财经－国际",
    "  新浪财经－股市",
    "  新浪财经－港股",
    " 银行",
    "  国有银行",
    "  股份制银行",
    "  城商行",
    " 保险",
    "  寿险",
    "  财险",
    "  再保险",
    " 证券",
    "  A股",
    "  港股",
    "  美股",
    "  科创板",
    " 基金",
    "  公募基金",
    "  私募基金",
    "  ETF",
    " 期货",
    "  商品期货",
    "  股指期货",
    " 外汇",
    "  人民币汇率",
    "  美元指数",
    "科技",
    " 互联网",
    "  电商",
    "  社交媒体",
    "  搜索引擎",
    "  云计算",
    " 通信",
    "  5G",
    "  运营商",
    "  卫星互联网",
    " 半导体",
    "  芯片设计",
    "  晶圆制造",
    "  封装测试",
    " 人工智能",
    "  Machine Learning",
    "  Deep Learning",
    "  大模型",
    "  Computer Vision",
    " 消费电子",
    "  智能手机",
    "  可穿戴设备",
    "  PC",
    " 新浪科技",
    "  新浪科技－业界",
    "  新浪科技－数码",
    "Programming",
    " C++",
    "  C++ Templates",
    "  STL",
    "  Modern C++",
    " Rust",
    "  Async Rust",
    "  Unsafe Rust",
    "  Cargo",
    " JavaScript",
    "  Node.js",
    "  React",
    "  Vue.js",
    "  TypeScript",
    " Python",
    "  Django",
    "  NumPy",
    "  Data Science",
    " Go",
    "  Goroutines",
    "  gRPC",
    " Databases",
    "  PostgreSQL",
    "  Redis",
    "  SQLite",
    " DevOps",
    "  Docker",
    "  Kubernetes",
    "  Continuous Integration",
    " Web Development",
    "  HTTP",
    "  WebAssembly",
    "  CSS",
    "宏观经济",
    " 国内经济",
    "  GDP",
    "  CPI",
    "  PMI",
    "  就业",
    " 货币政策",
    "  央行动态",
    "  利率",
    "  存款准备金",
    " 财政政策",
    "  专项债",
    "  减税降费",
    " 国际经济",
    "  美联储",
    "  欧洲央行",
    "  日本经济",
    "  新兴市场",
    " 贸易",
    "  进出口",
    "  跨境电商",
    "产业",
    " 制造业",
    "  装备制造",
    "  工业互联网",
    "  机器人",
    " 能源",
    "  新能源",
    "  光伏",
    "  风电",
    "  石油天然气",
    "  电力",
    " 汽车",
    "  新能源汽车",
    "  自动驾驶",
    "  汽车零部件",
    " 医药",
    "  创新药",
    "  医疗器械",
    "  疫苗",
    " 消费",
    "  白酒",
    "  零售",
    "  餐饮",
    "  家电",
    " 农业",
    "  粮食安全",
    "  生猪",
    "房产",
    " 楼市",
    "  一线城市",
    "  二线城市",
    "  土地市场",
    " 房企",
    "  房企融资",
    "  物业管理",
    " 政策调控",
    "  限购",
    "  房贷利率",
    "公司",
    " 上市公司",
    "  年报",
    "  业绩预告",
    "  分红",
    " IPO",
    "  科创板IPO",
    "  港股IPO",
    " 并购重组",
    " 公司治理",
    "  高管变动",
    "  股权激励",
    " 民营企业",
    "  中小企业",
    "  专精特新",
    "社会",
    " 教育",
    "  高考",
    "  职业教育",
    " 健康",
    "  医保",
    "  养老",
    " 就业创业",
    " 交通",
    "  高铁",
    "  民航",
    "  城市轨道",
    " 环境",
    "  碳中和",
    "  碳交易",
    "  环保",
    "生活",
    " 旅游",
    "  出境游",
    "  酒店",
    " 美食",
    " 体育",
    "  足球",
    "  篮球",
    "  电竞",
    " 娱乐",
    "  电影",
    "  音乐",
    "  游戏",
    " Digital Nomad",
    "  Remote Work",
    "  Travel Hacks",
    "Notes",
    " Reading",
    " Life Log",
    " 随笔",
];

/// Categories pinned to the top of the popularity ranking.
const POPULAR: &[&str] = &["新浪财经－国內", "新浪财经－国际", "新浪财经－股市"];

// The tail of every post, verbatim from the reference article except for the
// QR image and the editor's name.
const TAIL_A: &str = concat!(
    "<!-- news_keyword_pub,stock, -->\n\n\n\n\n\n\n\n",
    "<!-- 正文下iframe -->\n\n\n<!-- 正文下iframe -->\n\n",
    "<!-- 总声明-->\n\n\n\n\n\n\n\n\n\n\n\n<!-- 总声明-->\n\n",
    "<!-- 文末二维码 start -->\n\n\n",
    "            <!-- 文末二维码 start -->\n",
    "            <style>\n",
    "            .appendQr_wrap&#123;border:1px solid #E6E6E6;padding:8px;&#125;\n",
    "            .appendQr_normal&#123;float:left;&#125;\n",
    "            .appendQr_normal img&#123;width:74px;&#125;\n",
    "            .appendQr_normal_txt&#123;float:left;font-size:20px;line-height:74px;",
    "padding-left:20px;color:#333;&#125;\n",
    "            </style>\n",
    "            <div class=\"clearfix appendQr_wrap\">\n",
    "                <div class=\"appendQr_normal\"><img src=\"",
);
const TAIL_B: &str = concat!(
    "\" referrerpolicy=\"no-referrer\"></div>\n",
    "                <div class=\"appendQr_normal_txt\">海量资讯、精准解读，尽在新浪财经APP</div>\n",
    "            </div>\n",
    "            <!-- 文末二维码 start -->\n\n",
    "            <!-- 文末二维码 start -->\n\n",
    "<!-- 编辑姓名及工作代码 -->\n\n",
    "<p class=\"article-editor\">责任编辑：",
);
const TAIL_C: &str = concat!(
    " </p>\n",
    "<!-- 编辑姓名及工作代码-->\n\n",
    "  \n",
    "</div>\n",
    "            ",
);

// ---------------------------------------------------------------------------
// Categories.

struct Node {
    name: &'static str,
    parent: Option<usize>,
}

struct Categories {
    nodes: Vec<Node>,
    /// Cumulative Zipf weights by popularity rank.
    cumulative: Vec<u64>,
    /// Node of each popularity rank.
    by_rank: Vec<usize>,
}

impl Categories {
    fn new() -> Self {
        let mut nodes: Vec<Node> = Vec::new();
        let mut stack: Vec<usize> = Vec::new();
        for line in CATEGORY_TREE {
            let name = line.trim_start_matches(' ');
            let depth = line.len() - name.len();
            assert!(depth <= stack.len() && depth < 3, "bad tree line {line:?}");
            stack.truncate(depth);
            nodes.push(Node {
                name,
                parent: stack.last().copied(),
            });
            stack.push(nodes.len() - 1);
        }
        let mut seen = HashSet::new();
        for n in &nodes {
            assert!(seen.insert(n.name), "duplicate category {}", n.name);
        }
        // Fixed popularity ranking (independent of --seed): the pinned ones
        // first, then a fixed shuffle of the rest.
        let mut rest: Vec<usize> = (0..nodes.len())
            .filter(|&i| !POPULAR.contains(&nodes[i].name))
            .collect();
        let mut rng = Rng::new(0x5EED_CA7E, 0, 0);
        for i in (1..rest.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            rest.swap(i, j);
        }
        let mut by_rank: Vec<usize> = POPULAR
            .iter()
            .map(|p| nodes.iter().position(|n| n.name == *p).expect("pinned"))
            .collect();
        by_rank.extend(rest);
        let mut total = 0u64;
        let cumulative = (0..by_rank.len() as u64)
            .map(|r| {
                total += 1_000_000_000 / (r + 1);
                total
            })
            .collect();
        Categories {
            nodes,
            cumulative,
            by_rank,
        }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.below(*self.cumulative.last().expect("non-empty"));
        self.by_rank[self.cumulative.partition_point(|&c| c <= u)]
    }

    /// Root-to-node names.
    fn path(&self, mut node: usize) -> Vec<&'static str> {
        let mut path = vec![self.nodes[node].name];
        while let Some(p) = self.nodes[node].parent {
            path.push(self.nodes[p].name);
            node = p;
        }
        path.reverse();
        path
    }
}

/// A file or folder name for `s`.
fn file_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | '\0') {
                '_'
            } else {
                c
            }
        })
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

// ---------------------------------------------------------------------------
// Posts.

struct Meta {
    node: usize,
    title: String,
    /// China time (UTC+8) of the post, for dates mentioned in the text.
    local: DateTime<Utc>,
    date: String,
    author: &'static str,
    editor: &'static str,
    image: Option<String>,
    body_target: usize,
}

const START: i64 = 1_546_300_800; // 2019-01-01T00:00:00Z
const END: i64 = 1_704_067_199; // 2023-12-31T23:59:59Z
const CHINA: i64 = 8 * 3600;

fn meta(seed: u64, index: u64, cats: &Categories) -> Meta {
    let mut rng = Rng::new(seed, index, 0);
    let node = cats.sample(&mut rng);
    let title = title(&mut rng);
    let secs = START + rng.below((END - START + 1) as u64) as i64;
    let utc = DateTime::from_timestamp(secs, 0).expect("in range");
    let local = DateTime::from_timestamp(secs + CHINA, 0).expect("in range");
    let zone = rng.below(100);
    let date = if zone < 5 {
        format!("{} +0800", local.format("%a, %d %b %Y %H:%M:%S"))
    } else if zone < 7 {
        format!("{} CST", local.format("%a, %d %b %Y %H:%M:%S"))
    } else {
        format!("{} GMT", utc.format("%a, %d %b %Y %H:%M:%S"))
    };
    let author = if rng.pct(50) {
        AUTHORS[0]
    } else {
        rng.word(AUTHORS)
    };
    let editor = rng.word(EDITORS);
    let image = rng.pct(15).then(|| {
        let ymd = local.format("%Y%m%d");
        let mut key = String::new();
        for _ in 0..14 {
            key.push(char::from(
                *rng.pick(b"abcdefghijklmnopqrstuvwxyz0123456789"),
            ));
        }
        format!(
            "https://n.sinaimg.cn/spider{ymd}/{}/w{}h{}/{ymd}/{:04x}-{key}.jpg",
            rng.range(100, 799),
            rng.range(5, 10) * 100,
            rng.range(250, 800),
            rng.below(0x10000),
        )
    });
    let body_target = rng.range(1024, 8192) as usize;
    Meta {
        node,
        title,
        local,
        date,
        author,
        editor,
        image,
        body_target,
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn percent(rng: &mut Rng) -> String {
    format!("{}.{}%", rng.below(40), rng.below(10))
}

/// A headline of 8 to 30 characters.
fn title(rng: &mut Rng) -> String {
    loop {
        let want = rng.range(8, 30) as usize;
        let mut t = String::new();
        match rng.below(10) {
            0..=4 => {
                t.push_str(rng.word(SUBJECTS));
                if rng.pct(40) {
                    t.push_str(rng.word(ADVERBS));
                }
                t.push_str(rng.word(VERBS));
                if rng.pct(30) {
                    t.push_str(rng.word(MODIFIERS));
                }
                t.push_str(rng.word(OBJECTS));
            }
            5 | 6 => {
                t.push_str(rng.word(SUBJECTS));
                t.push('：');
                t.push_str(rng.word(ADVERBS));
                t.push_str(rng.word(VERBS));
                t.push_str(rng.word(MODIFIERS));
                t.push_str(rng.word(OBJECTS));
            }
            7 => {
                t.push_str(&format!("{}月", rng.range(1, 12)));
                t.push_str(rng.word(OBJECTS));
                t.push_str(if rng.pct(70) {
                    "同比增长"
                } else {
                    "同比下降"
                });
                t.push_str(&percent(rng));
            }
            8 => {
                t.push_str(rng.word(SUBJECTS));
                t.push_str(rng.word(VERBS));
                t.push('“');
                t.push_str(rng.word(SLOGANS));
                t.push('”');
                t.push_str(rng.word(OBJECTS));
            }
            _ => {
                t.push_str(rng.word(SUBJECTS));
                t.push_str(rng.word(VERBS));
                t.push_str(rng.word(OBJECTS));
                t.push_str(rng.word(TITLE_SUFFIXES));
            }
        }
        let mut n = chars(&t);
        if n > 30 {
            continue;
        }
        let mut misses = 0;
        while n < want && misses < 8 {
            let ext = match rng.below(4) {
                0 => format!("和{}", rng.word(OBJECTS)),
                1 => format!("，{}{}", rng.word(VERBS), rng.word(OBJECTS)),
                2 => format!(
                    "，{}{}{}",
                    rng.word(ADVERBS),
                    rng.word(VERBS),
                    rng.word(OBJECTS)
                ),
                _ => format!("{}{}", rng.word(MODIFIERS), rng.word(OBJECTS)),
            };
            let m = chars(&ext);
            if n + m <= 30 {
                t.push_str(&ext);
                n += m;
            } else {
                misses += 1;
            }
        }
        if n >= 8 {
            return t;
        }
    }
}

fn time_phrase(rng: &mut Rng, local: &DateTime<Utc>) -> String {
    match rng.below(10) {
        0 => format!("{}月{}日", local.month(), local.day()),
        1 => format!("{}年{}月", local.year(), local.month()),
        2 => format!("截至{}月末", rng.range(1, 12)),
        3 => format!("{}年以来", local.year()),
        4 => "今年以来".into(),
        5 => "近日".into(),
        6 => "上半年".into(),
        7 => format!("{}季度", rng.word(&["一", "二", "三", "四"])),
        8 => "目前".into(),
        _ => "下半年".into(),
    }
}

fn metric(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => format!("同比增长{}", percent(rng)),
        1 => format!("环比下降{}", percent(rng)),
        2 => format!("达到{}.{:02}亿元", rng.range(1, 9999), rng.below(100)),
        3 => format!("为{}万吨", rng.range(10, 99999)),
        4 => format!("较上年末增加{}.{}个百分点", rng.below(10), rng.below(10)),
        _ => format!("涉及{}家企业", rng.range(2, 5000)),
    }
}

/// One sentence, ending in `。`.
fn sentence(rng: &mut Rng, local: &DateTime<Utc>, out: &mut String) {
    if rng.pct(25) {
        out.push_str(&time_phrase(rng, local));
        out.push('，');
    }
    let clauses = rng.range(1, 4);
    for k in 0..clauses {
        if k > 0 {
            out.push(if rng.pct(10) { '；' } else { '，' });
        }
        match rng.below(100) {
            0..=39 => {
                out.push_str(rng.word(SUBJECTS));
                if rng.pct(50) {
                    out.push_str(rng.word(ADVERBS));
                }
                out.push_str(rng.word(VERBS));
                if rng.pct(40) {
                    out.push_str(rng.word(MODIFIERS));
                }
                out.push_str(rng.word(OBJECTS));
            }
            40..=54 => {
                out.push_str(rng.word(ADVERBS));
                out.push_str(rng.word(VERBS));
                out.push_str(rng.word(OBJECTS));
                out.push('和');
                out.push_str(rng.word(OBJECTS));
            }
            55..=64 => {
                out.push_str(rng.word(SUBJECTS));
                out.push_str(rng.word(SAYS));
                if rng.pct(30) {
                    out.push_str("：“");
                    out.push_str(rng.word(ADVERBS));
                    out.push_str(rng.word(VERBS));
                    out.push_str(rng.word(OBJECTS));
                    out.push('”');
                } else {
                    out.push('，');
                    out.push_str(rng.word(SUBJECTS));
                    out.push_str(rng.word(VERBS));
                    out.push_str(rng.word(OBJECTS));
                }
            }
            65..=74 => {
                out.push_str(rng.word(OBJECTS));
                out.push_str(&metric(rng));
            }
            75..=84 => {
                out.push_str(rng.word(SUBJECTS));
                out.push_str(rng.word(VERBS));
                for j in 0..rng.range(2, 4) {
                    if j > 0 {
                        out.push('、');
                    }
                    out.push_str(rng.word(OBJECTS));
                }
                out.push('等');
                out.push_str(rng.word(TAIL_NOUNS));
            }
            85..=91 => {
                out.push_str(rng.word(SUBJECTS));
                out.push_str(rng.word(VERBS));
                out.push('“');
                out.push_str(rng.word(SLOGANS));
                out.push('”');
                out.push_str(rng.word(OBJECTS));
            }
            _ => {
                out.push('《');
                out.push_str(rng.word(DOCS));
                out.push_str("》提出，");
                out.push_str(rng.word(VERBS));
                out.push_str(rng.word(MODIFIERS));
                out.push_str(rng.word(OBJECTS));
            }
        }
    }
    out.push('。');
}

fn yaml_single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn render(seed: u64, index: u64, m: &Meta, cats: &Categories) -> String {
    let mut rng = Rng::new(seed, index, 1);
    let image = m.image.as_deref().unwrap_or(QR_IMAGE);
    let mut out = String::with_capacity(m.body_target + 2048);
    out.push_str("\n---\ntitle: ");
    out.push_str(&yaml_single_quoted(&m.title));
    out.push_str("\ncategories: \n");
    for c in cats.path(m.node) {
        out.push_str(" - ");
        out.push_str(c);
        out.push('\n');
    }
    out.push_str(&format!(
        "headimg: '{image}'\nauthor: {}\ncomments: false\ndate: {}\nthumbnail: '{image}'\n---\n\n",
        m.author, m.date
    ));
    let body_start = out.len();
    out.push_str("<div>   \n");
    if let Some(img) = &m.image {
        out.push_str(&format!(
            "<div class=\"img_wrapper\"><img src=\"{img}\" alt=\"{}\" referrerpolicy=\"no-referrer\"><span class=\"img_descr\"></span></div>\n",
            m.title
        ));
    }
    let mut first = true;
    loop {
        out.push_str("<p>　　");
        if first {
            first = false;
            if rng.pct(30) {
                out.push_str(&format!(
                    "据“{}”微信公众号{}月{}日消息，",
                    rng.word(WECHAT),
                    m.local.month(),
                    m.local.day()
                ));
            }
        }
        let para_target = out.len() + rng.range(150, 900) as usize;
        let mut done = false;
        while out.len() < para_target {
            sentence(&mut rng, &m.local, &mut out);
            if out.len() - body_start + "</p>".len() >= m.body_target {
                done = true;
                break;
            }
        }
        out.push_str("</p>");
        if done {
            break;
        }
        out.push('\n');
    }
    out.push_str(TAIL_A);
    out.push_str(QR_IMAGE);
    out.push_str(TAIL_B);
    out.push_str(m.editor);
    out.push_str(TAIL_C);
    out
}

// ---------------------------------------------------------------------------

fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    if args.out.exists() {
        let non_empty = fs::read_dir(&args.out)
            .with_context(|| format!("reading {}", args.out.display()))?
            .next()
            .is_some();
        if non_empty && !args.force {
            bail!(
                "{} is not empty (use --force to write into it anyway)",
                args.out.display()
            );
        }
    }
    fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;

    let cats = Categories::new();
    let seed = args.seed;

    // Per-post metadata, each from its own stream.
    let mut metas: Vec<Meta> = (0..args.posts)
        .into_par_iter()
        .map(|i| meta(seed, i, &cats))
        .collect();

    // Unique titles, resolved in index order.
    let mut seen: HashSet<String> = HashSet::with_capacity(metas.len());
    for (i, m) in metas.iter_mut().enumerate() {
        if seen.contains(&m.title) {
            let mut attempt = 0;
            m.title = loop {
                let t = if attempt < 16 {
                    title(&mut Rng::new(seed, i as u64, 100 + attempt))
                } else {
                    format!("{}（{i}）", m.title)
                };
                if !seen.contains(&t) {
                    break t;
                }
                attempt += 1;
            };
        }
        seen.insert(m.title.clone());
    }
    drop(seen);

    // Folders: category path, then part-NNN of at most 1,000 posts.
    let mut counts = vec![0usize; cats.nodes.len()];
    let mut dirs: BTreeMap<(usize, usize), PathBuf> = BTreeMap::new();
    let parts: Vec<(usize, usize)> = metas
        .iter()
        .map(|m| {
            let part = counts[m.node] / 1000;
            counts[m.node] += 1;
            (m.node, part)
        })
        .collect();
    for &(node, part) in &parts {
        dirs.entry((node, part)).or_insert_with(|| {
            let mut dir: PathBuf = args.out.clone();
            for c in cats.path(node) {
                dir.push(file_name(c));
            }
            dir.push(format!("part-{part:03}"));
            dir
        });
    }
    for dir in dirs.values() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }

    let bytes = metas
        .par_iter()
        .zip(parts.par_iter())
        .enumerate()
        .map(|(i, (m, key))| -> Result<u64> {
            let text = render(seed, i as u64, m, &cats);
            let path: PathBuf = dirs[key].join(format!("{}.md", file_name(&m.title)));
            write(&path, &text)?;
            Ok(text.len() as u64)
        })
        .try_reduce(|| 0, |a, b| Ok(a + b))?;

    println!(
        "wrote {} files, {} bytes ({:.1} MiB) in {} folders under {} in {:.2}s (seed {seed})",
        metas.len(),
        bytes,
        bytes as f64 / (1024.0 * 1024.0),
        dirs.len(),
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
